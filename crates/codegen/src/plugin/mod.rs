//! `#[plugin]`: a struct whose fields are the tools a feature needs.
//!
//! ```text
//! #[plugin]
//! pub struct CreateUser { http: Http, db: Db }
//! ```
//!
//! expands to the struct itself, a `PluginBuild` impl that reads each field
//! from the application's tool set by name (`tools.db`), and a link-time
//! registration. The field access is what makes a misspelt tool a rustc error
//! at the user's field that names the closest tool and lists the others.

mod ast;
mod expand;
mod known;
mod valid;

use proc_macro2::TokenStream;

pub use ast::{PluginArgs, PluginField, PluginInput};

/// Expands `#[plugin(args)] item`. Never panics; on error returns the item plus errors.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let parsed = ast::PluginArgs::parse(args).and_then(|args| {
        let input = ast::PluginInput::parse(item.clone())?;
        valid::check(&args, &input)?;
        Ok((args, input))
    });
    match parsed {
        Ok((args, input)) => expand::expand(&args, &input),
        Err(e) => crate::errors::with_item(ast::without_state(item), e),
    }
}
