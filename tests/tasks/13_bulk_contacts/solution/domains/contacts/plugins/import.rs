//! `POST /contacts/import`: up to 100 contacts at once, each validated and
//! named by position when invalid, all stored or none.

use microcore::prelude::*;

/// Imports contacts in bulk and looks them up.
#[plugin]
pub struct Import {
    http: Http,
    db: Db,
}

/// One contact to import.
#[model]
pub struct NewContact {
    /// 1 to 100 characters.
    #[validate(length(min = 1, max = 100))]
    pub name: String,
    /// A valid email address.
    #[validate(email)]
    pub email: String,
}

/// The batch.
#[model]
pub struct ImportRequest {
    /// 1 to 100 contacts.
    #[validate(length(min = 1, max = 100), nested)]
    pub contacts: Vec<NewContact>,
}

/// How many were imported.
#[model]
pub struct ImportResult {
    /// The number of contacts stored.
    pub imported: u64,
}

/// Whom to look up.
#[model]
pub struct Lookup {
    /// Any case.
    #[validate(length(min = 1, max = 254))]
    pub email: String,
}

/// A stored contact.
#[model]
pub struct Contact {
    /// The name.
    pub name: String,
    /// The email, lower-cased.
    pub email: String,
}

impl Plugin for Import {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let import = Route::post("/contacts/import").tag("contacts").status(201);
        self.http.route(import, &self, Self::import)?;
        let lookup = Route::get("/contacts/lookup").tag("contacts");
        self.http.route(lookup, &self, Self::lookup)?;
        Ok(())
    }
}

impl Import {
    async fn import(self: Arc<Self>, req: ImportRequest, _: Ctx) -> HttpResult<ImportResult> {
        let rows = req
            .contacts
            .into_iter()
            .map(|c| params![c.name, c.email.trim().to_lowercase()])
            .collect();
        // One transaction: a unique violation on any row stores none.
        match self
            .db
            .execute_many("INSERT INTO contacts (name, email) VALUES ($1, $2)", rows)
            .await
        {
            Ok(imported) => Ok(ImportResult { imported }),
            Err(e) if e.kind == DbErrorKind::UniqueViolation => Err(HttpError::conflict(
                "an email in the list already exists or appears twice; nothing was imported",
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn lookup(self: Arc<Self>, req: Lookup, _: Ctx) -> HttpResult<Contact> {
        self.db
            .query_one(
                "SELECT name, email FROM contacts WHERE email = $1",
                params![req.email.trim().to_lowercase()],
            )
            .await?
            .ok_or_else(|| HttpError::not_found("contact not found"))
    }
}
