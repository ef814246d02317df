//! `#[contract]`: records a tool's public methods for AI_CONTEXT.md.
//!
//! It goes on an inherent `impl` block of a tool handle (`#[contract] impl Db
//! { … }`), or of a type plugins get from a tool (`#[contract(of = Http)] impl
//! Ctx { … }`). The block is re-emitted unchanged; next to it, a
//! `ToolContract` descriptor with every `pub fn`'s signature text and first
//! doc line goes into the kernel's `TOOL_CONTRACTS` slice. A method marked
//! `#[doc(hidden)]` is not part of the contract, nor is one marked
//! `#[not_in_manifest]`: public and documented for the framework's own use,
//! but not something a feature file calls, so not worth an agent's tokens.
//! The expansion names `::microcore_kernel` because tool crates depend on the
//! kernel, never on the facade.
//!
//! Optional arguments describe the tool as a whole, once per tool:
//! `backends = "…"`, `env = "…"`, `errors = "…"`.
//!
//! On a struct (`#[contract(of = EventBus)] pub struct Envelope<T> { … }`) it
//! records the public fields instead: a plugin reads `event.payload` as often
//! as it calls a method. Generic impl blocks (`impl<T> Envelope<T>`) are
//! recorded under the bare type name. `kit = "testing"` files a type under a
//! kit that is not a tool (the testing kit), so it needs no `Tool` impl.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::{ToTokens, quote};

use crate::errors::Errors;
use crate::paths::first_doc_line;

/// The parsed arguments of `#[contract(...)]`.
#[derive(Default)]
pub struct Args {
    /// The tool a companion type belongs to (`of = Http`); `None` for the handle itself.
    pub of: Option<syn::Path>,
    /// Backends and how to select them.
    pub backends: String,
    /// Settings the tool reads.
    pub env: String,
    /// Its errors.
    pub errors: String,
    /// A name to file the type under without naming a `Tool` type, instead
    /// of `of`: a kit that is no tool (`kit = "testing"`), or a tool whose
    /// handle this crate cannot name (`kit = "auth"` in the kernel).
    pub kit: Option<String>,
}

/// One recorded method.
#[derive(Debug, PartialEq, Eq)]
pub struct Method {
    /// Name.
    pub name: String,
    /// Signature text without visibility.
    pub signature: String,
    /// First doc line.
    pub doc: String,
}

/// Parses the attribute's arguments.
pub fn parse_args(args: TokenStream) -> syn::Result<Args> {
    let mut out = Args::default();
    if args.is_empty() {
        return Ok(out);
    }
    let parser = syn::meta::parser(|meta| {
        let key = meta.path.get_ident().map(ToString::to_string);
        match key.as_deref() {
            Some("of") => {
                out.of = Some(meta.value()?.parse()?);
                Ok(())
            }
            Some("kit") => {
                let value: syn::LitStr = meta.value()?.parse()?;
                out.kit = Some(value.value());
                Ok(())
            }
            Some(k @ ("backends" | "env" | "errors")) => {
                let value: syn::LitStr = meta.value()?.parse()?;
                let slot = match k {
                    "backends" => &mut out.backends,
                    "env" => &mut out.env,
                    _ => &mut out.errors,
                };
                *slot = value.value();
                Ok(())
            }
            _ => Err(meta.error(
                "unknown #[contract] argument; write `#[contract]`, or any of \
                 `of = ToolHandle, kit = \"testing\", backends = \"…\", env = \"…\", errors = \"…\"`",
            )),
        }
    });
    syn::parse::Parser::parse2(parser, args)?;
    Ok(out)
}

/// The public, non-hidden methods of an impl block, in source order.
pub fn methods(block: &syn::ItemImpl) -> Vec<Method> {
    block
        .items
        .iter()
        .filter_map(|item| match item {
            syn::ImplItem::Fn(f) if matches!(f.vis, syn::Visibility::Public(_)) => Some(f),
            _ => None,
        })
        .filter(|f| !is_doc_hidden(&f.attrs) && !is_not_in_manifest(&f.attrs))
        .map(|f| Method {
            name: f.sig.ident.to_string(),
            signature: signature_text(&f.sig),
            doc: first_doc_line(&f.attrs),
        })
        .collect()
}

/// The marker a method carries to stay public and documented but out of
/// AI_CONTEXT.md: framework-facing accessors a feature file never calls.
const NOT_IN_MANIFEST: &str = "not_in_manifest";

fn is_not_in_manifest(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident(NOT_IN_MANIFEST))
}

/// The block with the `#[not_in_manifest]` markers removed: they are read
/// here, and rustc knows no such attribute.
fn without_markers(mut block: syn::ItemImpl) -> syn::ItemImpl {
    for item in &mut block.items {
        if let syn::ImplItem::Fn(f) = item {
            f.attrs.retain(|a| !a.path().is_ident(NOT_IN_MANIFEST));
        }
    }
    block
}

fn is_doc_hidden(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("doc")
            && matches!(&a.meta, syn::Meta::List(l) if l.tokens.to_string().trim() == "hidden")
    })
}

/// A signature on one line, spaced as rustfmt would (`async fn get<T: X>(&self, key: &str) -> Option<T>`).
pub fn signature_text(sig: &syn::Signature) -> String {
    let mut sig = sig.clone();
    for input in &mut sig.inputs {
        match input {
            syn::FnArg::Receiver(r) => r.attrs.clear(),
            syn::FnArg::Typed(t) => t.attrs.clear(),
        }
    }
    let mut atoms = Vec::new();
    flatten(sig.to_token_stream(), &mut atoms);
    join(&atoms)
}

/// Tokens as printable atoms; `::` and `->` become one atom each.
fn flatten(tokens: TokenStream, out: &mut Vec<String>) {
    let mut joint: Option<char> = None;
    for tt in tokens {
        match tt {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("", ""),
                };
                if !open.is_empty() {
                    out.push(open.to_owned());
                }
                flatten(g.stream(), out);
                if !close.is_empty() {
                    out.push(close.to_owned());
                }
                joint = None;
            }
            TokenTree::Punct(p) => {
                let c = p.as_char();
                match (joint, c) {
                    (Some(':'), ':') | (Some('-'), '>') | (Some('='), '>') => {
                        if let Some(last) = out.last_mut() {
                            last.push(c);
                        }
                        joint = None;
                        continue;
                    }
                    _ => out.push(c.to_string()),
                }
                joint = (p.spacing() == Spacing::Joint && c != '\'').then_some(c);
            }
            other => {
                out.push(other.to_string());
                joint = None;
            }
        }
    }
}

fn is_word(atom: &str) -> bool {
    atom.chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '"')
}

fn join(atoms: &[String]) -> String {
    let mut out = String::new();
    let mut prev: Option<&str> = None;
    for (i, atom) in atoms.iter().enumerate() {
        let cur = atom.as_str();
        // rustfmt's trailing commas (`a: A,)`, `T: Send,` at the end) say nothing on one line.
        let next = atoms.get(i + 1).map(String::as_str);
        if cur == "," && matches!(next, None | Some(")" | ">" | "]")) {
            continue;
        }
        if let Some(p) = prev
            && space_between(p, cur)
        {
            out.push(' ');
        }
        out.push_str(cur);
        prev = Some(cur);
    }
    out
}

fn space_between(prev: &str, cur: &str) -> bool {
    if matches!(prev, "(" | "[" | "<" | "&" | "'" | "::" | "?" | "*") {
        return false;
    }
    match cur {
        ")" | "]" | "," | ";" | ":" | ">" | "<" => false,
        "::" => !(is_word(prev) || prev == ">"),
        "(" => !(is_word(prev) || prev == ">"),
        _ => true,
    }
}

/// The public fields of a struct, in source order, as `name: Type` entries.
pub fn fields(item: &syn::ItemStruct) -> Vec<Method> {
    item.fields
        .iter()
        .filter(|f| matches!(f.vis, syn::Visibility::Public(_)) && !is_doc_hidden(&f.attrs))
        .filter_map(|f| {
            let name = f.ident.as_ref()?.to_string();
            let mut atoms = Vec::new();
            flatten(f.ty.to_token_stream(), &mut atoms);
            Some(Method {
                signature: format!("{name}: {}", join(&atoms)),
                name,
                doc: first_doc_line(&f.attrs),
            })
        })
        .collect()
}

/// Expands `#[contract(...)] impl Type { … }` or `#[contract(...)] struct Type { … }`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            errors.push(e);
            Args::default()
        }
    };
    let (item, recorded) = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Impl(block)) => {
            let recorded = read_impl(&block, &mut errors);
            (without_markers(block).into_token_stream(), recorded)
        }
        Ok(syn::Item::Struct(s)) => (item, Some((s.ident.clone(), fields(&s)))),
        _ => {
            let e = syn::Error::new_spanned(
                &item,
                "#[contract] goes on a tool handle's inherent impl block (`#[contract] impl Db { pub async fn … }`) \
                 or on a struct whose public fields plugins read (`#[contract(of = EventBus)] pub struct Envelope<T> { … }`)",
            );
            return crate::errors::with_item(item, e);
        }
    };
    if let Err(e) = errors.finish() {
        return crate::errors::with_item(item, e);
    }
    let Some((type_ident, methods)) = recorded else {
        return item;
    };
    let type_name = type_ident.to_string();
    let tool_name: TokenStream = match (&args.kit, &args.of) {
        (Some(kit), _) => quote!(#kit),
        (None, Some(of)) => quote!(<#of as ::microcore_kernel::Tool>::NAME),
        (None, None) => quote!(<#type_ident as ::microcore_kernel::Tool>::NAME),
    };
    let methods = methods.into_iter().map(|m| {
        let (name, signature, doc) = (m.name, m.signature, m.doc);
        quote! {
            ::microcore_kernel::ContractMethod { name: #name, signature: #signature, doc: #doc }
        }
    });
    let (backends, env, errs) = (&args.backends, &args.env, &args.errors);
    quote! {
        #item

        const _: () = {
            #[::microcore_kernel::linkme::distributed_slice(::microcore_kernel::TOOL_CONTRACTS)]
            #[linkme(crate = ::microcore_kernel::linkme)]
            static __MICROCORE_CONTRACT: ::microcore_kernel::ToolContract = ::microcore_kernel::ToolContract {
                tool: #tool_name,
                type_name: #type_name,
                file: ::core::file!(),
                line: ::core::line!(),
                methods: &[#(#methods),*],
                backends: #backends,
                env: #env,
                errors: #errs,
            };
        };
    }
}

/// The type an inherent impl block is for, and its public methods; errors for
/// trait impls and unnamed types.
fn read_impl(block: &syn::ItemImpl, errors: &mut Errors) -> Option<(syn::Ident, Vec<Method>)> {
    if let Some((_, path, _)) = &block.trait_ {
        errors.at(
            path,
            "#[contract] records inherent methods; put it on `impl Type { … }`, not on a trait impl",
        );
    }
    let ident = match &*block.self_ty {
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    };
    if ident.is_none() {
        errors.at(
            &block.self_ty,
            "#[contract] needs a named type: `impl Db { … }`",
        );
    }
    Some((ident?, methods(block)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(src: &str) -> String {
        let f: syn::ImplItemFn = syn::parse_str(src).unwrap();
        signature_text(&f.sig)
    }

    #[test]
    fn signatures_read_as_written_on_one_line() {
        assert_eq!(
            sig(
                "pub async fn query<T: DeserializeOwned>(&self, sql: impl Into<Sql>, params: Params) -> Result<Vec<T>, DbError> {}"
            ),
            "async fn query<T: DeserializeOwned>(&self, sql: impl Into<Sql>, params: Params) -> Result<Vec<T>, DbError>"
        );
        assert_eq!(
            sig("pub fn namespace(&self, name: impl Into<String>) -> StateNamespace {}"),
            "fn namespace(&self, name: impl Into<String>) -> StateNamespace"
        );
        assert_eq!(
            sig(
                "pub fn f<'a>(&'a mut self, x: &'a [u8], y: Option<&'static str>) -> Vec<Vec<u8>> {}"
            ),
            "fn f<'a>(&'a mut self, x: &'a [u8], y: Option<&'static str>) -> Vec<Vec<u8>>"
        );
    }

    #[test]
    fn trailing_commas_are_dropped() {
        assert_eq!(
            sig("pub fn f<T>(&self, a: A,) -> R where T: Send, {}"),
            "fn f<T>(&self, a: A) -> R where T: Send"
        );
    }

    #[test]
    fn where_clauses_and_closure_bounds_keep_their_shape() {
        assert_eq!(
            sig("pub async fn subscribe<P, E, F, Fut>(&self, plugin: &Arc<P>, handler: F) -> Result<Subscription, BusError>
                 where P: Send + Sync + 'static, E: Event, F: Fn(Arc<P>, Envelope<E>) -> Fut + Send, Fut: Future<Output = anyhow::Result<()>> + Send {}"),
            "async fn subscribe<P, E, F, Fut>(&self, plugin: &Arc<P>, handler: F) -> Result<Subscription, BusError> \
             where P: Send + Sync + 'static, E: Event, F: Fn(Arc<P>, Envelope<E>) -> Fut + Send, Fut: Future<Output = anyhow::Result<()>> + Send"
        );
        assert_eq!(
            sig(
                "pub fn t<T: ?Sized>(self: Arc<Self>, #[allow(unused)] x: ::std::time::Duration) -> (u8, u16) {}"
            ),
            "fn t<T: ?Sized>(self: Arc<Self>, x: ::std::time::Duration) -> (u8, u16)"
        );
    }

    #[test]
    fn only_public_documented_methods_are_the_contract() {
        let block: syn::ItemImpl = syn::parse_str(
            "impl Db {
                /// Runs a query.
                /// More text.
                pub async fn query(&self) {}
                fn private(&self) {}
                pub(crate) fn internal(&self) {}
                #[doc(hidden)]
                pub fn hidden(&self) {}
                pub fn engine(&self) -> &'static str { \"\" }
            }",
        )
        .unwrap();
        let found = methods(&block);
        let names: Vec<_> = found.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["query", "engine"]);
        assert_eq!(found[0].doc, "Runs a query. More text.");
        assert_eq!(found[1].doc, "");
    }

    #[test]
    fn arguments_describe_the_tool_and_unknown_ones_are_refused() {
        let args = parse_args(quote!(
            of = Http,
            backends = "memory | redis",
            env = "STATE_URL",
            errors = "StateError"
        ))
        .unwrap();
        assert_eq!(args.of.unwrap().to_token_stream().to_string(), "Http");
        assert_eq!(
            (
                args.backends.as_str(),
                args.env.as_str(),
                args.errors.as_str()
            ),
            ("memory | redis", "STATE_URL", "StateError")
        );
        let err = parse_args(quote!(backend = "x")).err().unwrap().to_string();
        assert!(err.contains("unknown #[contract] argument"), "{err}");
    }

    #[test]
    fn the_block_is_re_emitted_with_a_kernel_descriptor() {
        let out = expand(
            quote!(),
            quote!(impl Db { /// Runs.
            pub fn run(&self) {} }),
        )
        .to_string();
        assert!(out.contains("impl Db"), "{out}");
        assert!(
            out.contains(":: microcore_kernel :: TOOL_CONTRACTS"),
            "{out}"
        );
        assert!(
            out.contains("< Db as :: microcore_kernel :: Tool > :: NAME"),
            "{out}"
        );
        assert!(out.contains("\"fn run(&self)\""), "{out}");
    }

    #[test]
    fn trait_impls_are_errors_that_keep_the_item() {
        let out = expand(quote!(), quote!(impl Tool for Db {})).to_string();
        assert!(
            out.contains("compile_error") && out.contains("not on a trait impl"),
            "{out}"
        );
        assert!(
            out.contains("impl Tool for Db"),
            "the item is still there: {out}"
        );
    }

    #[test]
    fn generic_impls_are_recorded_under_the_bare_type_name() {
        let out = expand(
            quote!(of = EventBus),
            quote!(
                impl<E> Envelope<E> {
                    /// The payload.
                    pub fn payload(&self) -> &E {
                        &self.payload
                    }
                }
            ),
        )
        .to_string();
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("type_name : \"Envelope\""), "{out}");
        assert!(
            out.contains("< EventBus as :: microcore_kernel :: Tool > :: NAME"),
            "{out}"
        );
    }

    #[test]
    fn a_struct_records_its_public_fields() {
        let item: syn::ItemStruct = syn::parse_quote! {
            pub struct Envelope<T> {
                /// The event's id.
                pub id: String,
                pub payload: T,
                hidden: u8,
                #[doc(hidden)]
                pub internal: u8,
            }
        };
        let found = fields(&item);
        let sigs: Vec<_> = found.iter().map(|m| m.signature.as_str()).collect();
        assert_eq!(sigs, ["id: String", "payload: T"]);
        assert_eq!(found[0].doc, "The event's id.");
    }

    #[test]
    fn a_method_marked_not_in_manifest_is_public_but_unrecorded() {
        let out = expand(
            quote!(),
            quote!(impl Db { /// Runs.
            pub fn run(&self) {}
            /// For the framework.
            #[not_in_manifest]
            pub fn engine(&self) {} }),
        )
        .to_string();
        assert!(
            out.contains("\"run\"") && !out.contains("\"engine\""),
            "{out}"
        );
        assert!(
            out.contains("pub fn engine"),
            "the method is still there: {out}"
        );
        assert!(
            !out.contains("not_in_manifest"),
            "the marker is gone: {out}"
        );
    }

    #[test]
    fn a_kit_needs_no_tool() {
        let out = expand(
            quote!(kit = "testing"),
            quote!(impl TestApp { /// Boots.
            pub fn boot() {} }),
        )
        .to_string();
        assert!(out.contains("tool : \"testing\""), "{out}");
        assert!(!out.contains("Tool > :: NAME"), "{out}");
    }

    #[test]
    fn other_items_are_refused_with_what_to_write() {
        let out = expand(
            quote!(),
            quote!(
                fn f() {}
            ),
        )
        .to_string();
        assert!(
            out.contains("compile_error") && out.contains("impl Db"),
            "{out}"
        );
        assert!(out.contains("fn f"), "{out}");
    }
}
