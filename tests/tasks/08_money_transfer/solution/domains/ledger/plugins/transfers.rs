//! `POST /ledger/transfers`: moves money between two accounts in one
//! transaction; the debit only happens when the balance covers it.

use microcore::prelude::*;

use super::models::Account;

/// Moves money between accounts.
#[plugin]
pub struct Transfers {
    http: Http,
    db: Db,
}

/// A transfer to make.
#[model]
pub struct NewTransfer {
    /// The account paying.
    pub from: i64,
    /// The account paid.
    pub to: i64,
    /// At least 1 cent.
    #[validate(range(min = 1))]
    pub amount_cents: i64,
}

/// A transfer made, with both balances after it.
#[model]
pub struct Transfer {
    /// The account that paid.
    pub from: i64,
    /// The account paid.
    pub to: i64,
    /// The amount moved.
    pub amount_cents: i64,
    /// `from`'s balance after the transfer.
    pub from_balance_cents: i64,
    /// `to`'s balance after the transfer.
    pub to_balance_cents: i64,
}

impl Plugin for Transfers {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::post("/ledger/transfers").tag("ledger").status(201);
        self.http.route(route, &self, Self::transfer)?;
        Ok(())
    }
}

impl Transfers {
    async fn transfer(self: Arc<Self>, req: NewTransfer, _: Ctx) -> HttpResult<Transfer> {
        if req.from == req.to {
            return Err(HttpError::unprocessable("to: must differ from `from`"));
        }
        let NewTransfer {
            from,
            to,
            amount_cents,
        } = req;
        self.db
            .try_transaction(|tx| async move {
                let debited = tx
                    .execute(
                        "UPDATE ledger_accounts SET balance_cents = balance_cents - $1 \
                         WHERE id = $2 AND balance_cents >= $1",
                        params![amount_cents, from],
                    )
                    .await?;
                if debited == 0 {
                    let exists: Option<Account> = tx
                        .query_one(
                            "SELECT id, owner, balance_cents FROM ledger_accounts WHERE id = $1",
                            params![from],
                        )
                        .await?;
                    return Err(match exists {
                        Some(_) => HttpError::conflict("insufficient funds in the `from` account"),
                        None => HttpError::not_found("the `from` account does not exist"),
                    });
                }
                let credited = tx
                    .execute(
                        "UPDATE ledger_accounts SET balance_cents = balance_cents + $1 WHERE id = $2",
                        params![amount_cents, to],
                    )
                    .await?;
                if credited == 0 {
                    return Err(HttpError::not_found("the `to` account does not exist"));
                }
                let balance = |id: i64| {
                    let tx = &tx;
                    async move {
                        tx.query_one::<Account>(
                            "SELECT id, owner, balance_cents FROM ledger_accounts WHERE id = $1",
                            params![id],
                        )
                        .await
                        .map(|a| a.map_or(0, |a| a.balance_cents))
                    }
                };
                Ok(Transfer {
                    from,
                    to,
                    amount_cents,
                    from_balance_cents: balance(from).await?,
                    to_balance_cents: balance(to).await?,
                })
            })
            .await
    }
}
