// A plugin cannot import another plugin: each plugin file is a private module
// inside its own wrapper (this is the shape the app's build script generates).
mod users {
    mod models {}
    microcore::plugin_module!(create_user {
        pub struct CreateUser;
    });
    microcore::plugin_module!(login {
        #[allow(unused_imports)]
        use super::super::create_user::plugin::CreateUser;
    });
}

fn main() {}
