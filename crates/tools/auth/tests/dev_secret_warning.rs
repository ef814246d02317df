//! Running without `AUTH_SECRET_KEY` outside production works, and says
//! loudly that tokens will not survive a restart and how to fix it.

use std::io::Write;
use std::sync::Arc;

use microcore_auth::Auth;
use microcore_kernel::{Env, Probe, Registry, Tool, ToolSetup};
use parking_lot::Mutex;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_unset_secret_in_development_warns_loudly_and_still_works() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    // The only test in this binary: a global subscriber avoids tracing's
    // per-thread callsite cache races.
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let auth = Auth::setup(ToolSetup {
        env: Env::from_pairs([("MICROCORE_ENV", "development")]),
        probe: Probe::detached("auth"),
        registry: Registry::new(),
    })
    .await
    .unwrap();
    let token = auth.create_token(1, serde_json::json!({}), None).unwrap();
    assert_eq!(auth.decode_token(&token).unwrap().sub, "1");

    let output = String::from_utf8(buffer.0.lock().clone()).unwrap();
    assert!(output.contains("WARN"), "{output}");
    assert!(output.contains("AUTH_SECRET_KEY is not set"), "{output}");
    assert!(output.contains("will NOT survive a restart"), "{output}");
    assert!(output.contains("openssl rand -base64 48"), "{output}");
}
