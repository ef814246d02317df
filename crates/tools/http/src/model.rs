//! What a handler may take and return.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationErrors};

/// A request type: deserialized from path + query + JSON body, described by a
/// JSON Schema, then validated.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a request model",
    label = "a handler's second parameter must be a request model",
    note = "put #[model] on `{Self}` (it derives Deserialize, JsonSchema and Validate), or take `Empty` when the handler needs no input"
)]
pub trait RequestModel: DeserializeOwned + JsonSchema + Validate + Send + 'static {}

impl<T: DeserializeOwned + JsonSchema + Validate + Send + 'static> RequestModel for T {}

/// A response type: serialized into `{"success":true,"data":...}` and described
/// by a JSON Schema in the OpenAPI document.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a response model",
    label = "a handler must return `HttpResult<T>` where T is a response model",
    note = "put #[model] on `{Self}` (it derives Serialize and JsonSchema), or return `()`"
)]
pub trait ResponseModel: Serialize + JsonSchema + Send + 'static {}

impl<T: Serialize + JsonSchema + Send + 'static> ResponseModel for T {}

/// The request model of a handler that takes no input: any query or body
/// keys are ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Empty {}

impl Validate for Empty {
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}
