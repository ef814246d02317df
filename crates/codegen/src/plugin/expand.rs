//! Code generation for `#[plugin]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::ast::{PluginArgs, PluginInput};
use crate::paths::private;

pub(crate) fn expand(args: &PluginArgs, input: &PluginInput) -> TokenStream {
    let p = private();
    let item = &input.item;
    let name = &item.ident;
    let tools_ty = &args.tools;
    let doc = &input.doc;

    let tool_fields: Vec<_> = input.fields.iter().filter(|f| !f.is_state).collect();
    let tool_names: Vec<String> = tool_fields.iter().map(|f| f.ident.to_string()).collect();
    let injections = tool_fields.iter().map(|f| {
        let ident = &f.ident;
        let ty = &f.ty;
        // `tools.#ident` carries the user's span: a misspelt tool is rustc's
        // "no field `dbx` on type `Tools`" at the field, with the closest name.
        let access = quote_spanned!(ident.span()=> tools.#ident);
        quote_spanned! {ty.span()=>
            let #ident = #access.inject::<#ty>(id, &mut missing);
        }
    });
    let bound: Vec<_> = tool_fields.iter().map(|f| &f.ident).collect();
    let state_inits = input.fields.iter().filter(|f| f.is_state).map(|f| {
        let ident = &f.ident;
        quote_spanned!(f.ty.span()=> #ident: ::core::default::Default::default())
    });
    let construct = match &item.fields {
        syn::Fields::Unit => quote!(#name),
        _ => quote!(#name { #(#bound,)* #(#state_inits,)* }),
    };
    let unpack = if bound.is_empty() {
        quote!(let _ = &mut missing;)
    } else {
        quote! {
            let (#(::core::option::Option::Some(#bound),)*) = (#(#bound,)*) else {
                return ::core::result::Result::Err(missing);
            };
        }
    };
    let impl_build = quote_spanned! {name.span()=>
        impl #p::PluginBuild for #name {
            type Tools = #tools_ty;
            fn build(tools: &#tools_ty, id: &#p::PluginId) -> ::core::result::Result<Self, #p::MissingTools> {
                let _ = (tools, id);
                let mut missing = #p::MissingTools::default();
                #(#injections)*
                #unpack
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
