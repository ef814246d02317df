//! `GET /shipping/quote`: the price of a parcel from two settings with
//! defaults, checked at boot so a bad value never reaches a request.

use microcore::prelude::*;

/// Quotes shipping by weight.
#[plugin]
pub struct Quote {
    http: Http,
    config: Config,
}

/// The parcel.
#[model]
pub struct QuoteRequest {
    /// Weight in grams, at least 1.
    #[validate(range(min = 1))]
    pub weight_grams: i64,
}

/// The price.
#[model]
pub struct QuoteResponse {
    /// The weight quoted.
    pub weight_grams: i64,
    /// Started kilograms times the rate.
    pub cost_cents: i64,
    /// The configured rate.
    pub rate_cents_per_kg: i64,
}

/// The two settings, with their defaults.
struct Rates {
    cents_per_kg: i64,
    max_grams: i64,
}

impl Plugin for Quote {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.rates()?;
        let route = Route::get("/shipping/quote").tag("shipping");
        self.http.route(route, &self, Self::quote)?;
        Ok(())
    }
}

impl Quote {
    fn rates(&self) -> anyhow::Result<Rates> {
        let positive = |key: &str, default: i64| -> anyhow::Result<i64> {
            match self.config.parse::<i64>(key)? {
                None => Ok(default),
                Some(n) if n > 0 => Ok(n),
                Some(n) => bail!("{key}={n}: must be a positive whole number"),
            }
        };
        Ok(Rates {
            cents_per_kg: positive("SHIPPING_RATE_CENTS_PER_KG", 500)?,
            max_grams: positive("SHIPPING_MAX_GRAMS", 30_000)?,
        })
    }

    async fn quote(self: Arc<Self>, req: QuoteRequest, _: Ctx) -> HttpResult<QuoteResponse> {
        let rates = self.rates().map_err(HttpError::from_anyhow)?;
        if req.weight_grams > rates.max_grams {
            return Err(HttpError::unprocessable(format!(
                "weight_grams: at most {} grams",
                rates.max_grams
            )));
        }
        let kilograms = (req.weight_grams + 999) / 1000;
        Ok(QuoteResponse {
            weight_grams: req.weight_grams,
            cost_cents: kilograms * rates.cents_per_kg,
            rate_cents_per_kg: rates.cents_per_kg,
        })
    }
}
