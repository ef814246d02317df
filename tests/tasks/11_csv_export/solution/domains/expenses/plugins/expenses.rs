//! Expenses: record one, and export them all as an RFC 4180 CSV file.

use microcore::prelude::*;

/// Records expenses and exports them as CSV.
#[plugin]
pub struct Expenses {
    http: Http,
    db: Db,
}

/// An expense to record.
#[model]
pub struct NewExpense {
    /// 1 to 200 characters.
    #[validate(length(min = 1, max = 200))]
    pub description: String,
    /// At least 1 cent.
    #[validate(range(min = 1))]
    pub amount_cents: i64,
    /// `YYYY-MM-DD`.
    #[validate(length(equal = 10))]
    pub spent_on: String,
}

/// A recorded expense.
#[model]
pub struct Expense {
    /// Its id.
    pub id: i64,
    /// What it was for.
    pub description: String,
    /// Its amount in cents.
    pub amount_cents: i64,
    /// The day, `YYYY-MM-DD`.
    pub spent_on: String,
}

impl Plugin for Expenses {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let record = Route::post("/expenses").tag("expenses").status(201);
        self.http.route(record, &self, Self::record)?;
        let export = Route::get("/expenses/export.csv").tag("expenses");
        self.http.route(export, &self, Self::export)?;
        Ok(())
    }
}

impl Expenses {
    async fn record(self: Arc<Self>, req: NewExpense, _: Ctx) -> HttpResult<Expense> {
        if !is_iso_date(&req.spent_on) {
            return Err(HttpError::unprocessable(
                "spent_on: must be a date, YYYY-MM-DD",
            ));
        }
        let id = self
            .db
            .execute(
                "INSERT INTO expenses (description, amount_cents, spent_on) VALUES ($1, $2, $3) RETURNING id",
                params![req.description.clone(), req.amount_cents, req.spent_on.clone()],
            )
            .await?;
        Ok(Expense {
            id,
            description: req.description,
            amount_cents: req.amount_cents,
            spent_on: req.spent_on,
        })
    }

    async fn export(self: Arc<Self>, _: (), _: Ctx) -> HttpResult<Raw> {
        let rows: Vec<Expense> = self
            .db
            .query(
                "SELECT id, description, amount_cents, spent_on FROM expenses ORDER BY spent_on, id",
                params![],
            )
            .await?;
        let mut csv = String::from("id,description,amount_cents,spent_on\r\n");
        for e in rows {
            csv.push_str(&format!(
                "{},{},{},{}\r\n",
                e.id,
                field(&e.description),
                e.amount_cents,
                field(&e.spent_on)
            ));
        }
        Ok(Raw::csv(csv).attachment("expenses.csv"))
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Whether `s` is a real calendar date written `YYYY-MM-DD`.
fn is_iso_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}
