// A domain cannot import another domain's models: `models` is private to its domain.
mod users {
    mod models {
        pub struct User;
    }
}

mod billing {
    mod models {}
    microcore::plugin_module!(invoice {
        #[allow(unused_imports)]
        use crate::users::models::User;
    });
}

fn main() {}
