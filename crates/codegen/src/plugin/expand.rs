//! Code generation for `#[plugin]`.
//!
//! The generated `build` names its own variables with `Span::mixed_site()`,
//! so a field called `tools`, `id` or `missing` cannot clash with them, and
//! a field's `#[cfg]` is copied onto everything generated for it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use super::ast::{PluginArgs, PluginInput};
use crate::paths::private;

pub(crate) fn expand(args: &PluginArgs, input: &PluginInput) -> TokenStream {
    let p = private();
    let item = &input.item;
    let name = &item.ident;
    let tools_ty = &args.tools;
    let doc = &input.doc;
    let tools = syn::Ident::new("tools", Span::mixed_site());
    let id = syn::Ident::new("id", Span::mixed_site());
    let missing = syn::Ident::new("missing", Span::mixed_site());

    let tool_fields: Vec<_> = input.fields.iter().filter(|f| !f.is_state).collect();
    let tool_names = tool_fields.iter().map(|f| {
        let cfg = &f.cfg;
        let name = f.ident.unraw().to_string();
        quote!(#(#cfg)* #name)
    });
    let injections = tool_fields.iter().map(|f| {
        let (ident, ty, cfg) = (&f.ident, &f.ty, &f.cfg);
        // `tools.#ident` carries the user's span: a misspelt tool is rustc's
        // "no field `dbx` on type `Tools`" at the field, with the closest name.
        let access = quote_spanned!(ident.span()=> #tools.#ident);
        quote_spanned! {ty.span()=>
            #(#cfg)*
            let #ident = #access.inject::<#ty>(#id, &mut #missing);
        }
    });
    // Every tool was looked up (and every missing one recorded) before the first return.
    let unpack = tool_fields.iter().map(|f| {
        let (ident, cfg) = (&f.ident, &f.cfg);
        quote! {
            #(#cfg)*
            let ::core::option::Option::Some(#ident) = #ident else {
                return ::core::result::Result::Err(#missing);
            };
        }
    });
    let inits = input.fields.iter().map(|f| {
        let (ident, cfg) = (&f.ident, &f.cfg);
        if f.is_state {
            quote_spanned!(f.ty.span()=> #(#cfg)* #ident: ::core::default::Default::default())
        } else {
            quote!(#(#cfg)* #ident)
        }
    });
    let construct = match &item.fields {
        syn::Fields::Unit => quote!(#name),
        _ => quote!(#name { #(#inits,)* }),
    };
    let impl_build = quote_spanned! {name.span()=>
        impl #p::PluginBuild for #name {
            type Tools = #tools_ty;
            fn build(#tools: &#tools_ty, #id: &#p::PluginId) -> ::core::result::Result<Self, #p::MissingTools> {
                let _ = (#tools, #id);
                #[allow(unused_mut, unused_variables)]
                let mut #missing = #p::MissingTools::default();
                #(#injections)*
                #(#unpack)*
                ::core::result::Result::Ok(#construct)
            }
        }
    };

    quote! {
        #item

        const _: () = {
            #impl_build

            #[#p::linkme::distributed_slice(#p::PLUGINS)]
            #[linkme(crate = #p::linkme)]
            static __MICROCORE_PLUGIN: #p::PluginDescriptor = #p::PluginDescriptor {
                type_name: ::core::stringify!(#name),
                module_path: ::core::module_path!(),
                file: ::core::file!(),
                doc: #doc,
                tools: &[#(#tool_names),*],
                tool_set: ::core::any::TypeId::of::<#tools_ty>,
                build: #p::build_erased::<#name>,
            };
        };
    }
}
