//! Welcomes every new user: consumes `user.created`, publishes `welcome.sent`.
//! It lives in another domain than the publisher and shares no code with it.

use microcore::prelude::*;

/// Sends the welcome message when a user signs up.
#[plugin]
pub struct Welcome {
    event_bus: EventBus,
    logger: Logger,
}

/// What this feature needs from `user.created` (its own copy of the contract).
#[event("user.created")]
pub struct UserCreated {
    /// The new user's id.
    pub id: i64,
    /// Where to send the welcome.
    pub email: String,
}

/// A welcome message went out.
#[event("welcome.sent")]
pub struct WelcomeSent {
    /// The welcomed user's id.
    pub user_id: i64,
    /// Where it was sent.
    pub email: String,
}

impl Plugin for Welcome {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        self.event_bus
            .subscribe(&self, Self::on_user_created)
            .await?;
        Ok(())
    }
}

impl Welcome {
    async fn on_user_created(self: Arc<Self>, event: Envelope<UserCreated>) -> HandlerResult {
        self.logger
            .info(format!("welcoming user {}", event.payload.id));
        let sent = WelcomeSent {
            user_id: event.payload.id,
            email: event.payload.email.clone(),
        };
        self.event_bus.publish(sent).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use microcore::testing;

    #[tokio::test]
    async fn user_created_leads_to_welcome_sent_as_its_child() {
        let app = testing::boot::<Welcome>().await;
        app.bus()
            .publish(UserCreated {
                id: 7,
                email: "ana@example.com".into(),
            })
            .await
            .unwrap();
        let sent = app.wait_for("welcome.sent", Duration::from_secs(2)).await;
        assert_eq!(
            sent,
            vec![json!({"user_id": 7, "email": "ana@example.com"})]
        );
    }
}
