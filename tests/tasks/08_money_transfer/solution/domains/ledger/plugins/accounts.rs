//! Ledger accounts: open one, read one.

use microcore::prelude::*;

use super::models::Account;

/// Opens and shows accounts.
#[plugin]
pub struct Accounts {
    http: Http,
    db: Db,
}

/// An account to open.
#[model]
pub struct NewAccount {
    /// 1 to 100 characters.
    #[validate(length(min = 1, max = 100))]
    pub owner: String,
    /// The opening balance, 0 or more.
    #[validate(range(min = 0))]
    pub balance_cents: i64,
}

/// The id in the path.
#[model]
pub struct AccountPath {
    /// The account's id.
    pub id: i64,
}

impl Plugin for Accounts {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let open = Route::post("/ledger/accounts").tag("ledger").status(201);
        self.http.route(open, &self, Self::open)?;
        let show = Route::get("/ledger/accounts/{id}").tag("ledger");
        self.http.route(show, &self, Self::show)?;
        Ok(())
    }
}

impl Accounts {
    async fn open(self: Arc<Self>, req: NewAccount, _: Ctx) -> HttpResult<Account> {
        let id = self
            .db
            .execute(
                "INSERT INTO ledger_accounts (owner, balance_cents) VALUES ($1, $2) RETURNING id",
                params![req.owner.clone(), req.balance_cents],
            )
            .await?;
        Ok(Account {
            id,
            owner: req.owner,
            balance_cents: req.balance_cents,
        })
    }

    async fn show(self: Arc<Self>, req: AccountPath, _: Ctx) -> HttpResult<Account> {
        self.db
            .query_one(
                "SELECT id, owner, balance_cents FROM ledger_accounts WHERE id = $1",
                params![req.id],
            )
            .await?
            .ok_or_else(|| HttpError::not_found("account not found"))
    }
}
