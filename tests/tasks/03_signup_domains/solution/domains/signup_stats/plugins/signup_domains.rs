//! Counts sign-ups per email domain from `user.created`, and serves the
//! counts over `GET /signup-stats/{domain}`.

use microcore::prelude::*;

/// Counts new users per email domain.
#[plugin]
pub struct SignupDomains {
    http: Http,
    db: Db,
    event_bus: EventBus,
}

/// What this feature needs from `user.created`.
#[event("user.created")]
pub struct UserCreated {
    /// The new user's id.
    pub id: i64,
    /// The new user's email.
    pub email: String,
}

/// The domain in the path.
#[model]
pub struct DomainPath {
    /// An email domain, any case.
    #[validate(length(min = 1, max = 255))]
    pub domain: String,
}

/// How many users signed up with one email domain.
#[model]
pub struct DomainCount {
    /// The domain, lower-cased.
    pub domain: String,
    /// Sign-ups counted so far.
    pub signups: i64,
}

impl Plugin for SignupDomains {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let route = Route::get("/signup-stats/{domain}").tag("signup_stats");
        self.http.route(route, &self, Self::count)?;
        self.event_bus
            .subscribe(&self, Self::on_user_created)
            .await?;
        Ok(())
    }
}

impl SignupDomains {
    async fn count(self: Arc<Self>, req: DomainPath, _: Ctx) -> HttpResult<DomainCount> {
        let domain = req.domain.to_lowercase();
        let signups = self
            .db
            .query_one::<DomainCount>(
                "SELECT domain, signups FROM signup_domains WHERE domain = $1",
                params![domain.clone()],
            )
            .await?
            .map_or(0, |c| c.signups);
        Ok(DomainCount { domain, signups })
    }

    async fn on_user_created(self: Arc<Self>, event: Envelope<UserCreated>) -> HandlerResult {
        let Some((_, domain)) = event.payload.email.rsplit_once('@') else {
            return Ok(());
        };
        let domain = domain.to_lowercase();
        let event_id = event.id.clone();
        // The closure may run again on a conflict: it clones what it moves.
        self.db
            .transaction(|tx| {
                let (event_id, domain) = (event_id.clone(), domain.clone());
                async move {
                let first = tx
                    .execute(
                        "INSERT INTO signup_domains_seen (event_id) VALUES ($1) ON CONFLICT DO NOTHING",
                        params![event_id],
                    )
                    .await?;
                if first == 1 {
                    tx.execute(
                        "INSERT INTO signup_domains (domain, signups) VALUES ($1, 1) \
                         ON CONFLICT (domain) DO UPDATE SET signups = signups + 1",
                        params![domain],
                    )
                    .await?;
                }
                Ok(())
            }})
            .await?;
        Ok(())
    }
}
