//! Plugins: business logic, one file per feature, registered at link time.

use std::any::{Any, TypeId};
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use linkme::distributed_slice;

use crate::tool::{MissingTools, ToolSet};

/// What `on_boot` and `shutdown` return; any error marks the plugin DEAD.
pub type BootResult = anyhow::Result<()>;

/// A feature. Implement it next to a `#[plugin]` struct; both methods have defaults.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a #[plugin] but does not implement `Plugin`",
    label = "add `impl Plugin for {Self}` next to this struct",
    note = "write `impl Plugin for {Self} {{ async fn on_boot(self: Arc<Self>) -> BootResult {{ /* register routes and subscriptions */ Ok(()) }} }}`"
)]
pub trait Plugin: Send + Sync + 'static {
    /// Registers routes and subscriptions. Runs once, after every tool is set up.
    fn on_boot(self: Arc<Self>) -> impl Future<Output = BootResult> + Send {
        async { Ok(()) }
    }

    /// Releases what `on_boot` acquired. Runs once, after in-flight work drained.
    fn shutdown(self: Arc<Self>) -> impl Future<Output = BootResult> + Send {
        async { Ok(()) }
    }
}

/// Built by `#[plugin]`: takes the plugin's tools out of the application's tool set.
pub trait PluginBuild: Plugin + Sized {
    /// The application's tool set type.
    type Tools: ToolSet;
    /// Builds the plugin, or lists every required tool that is missing.
    fn build(tools: &Self::Tools, id: &PluginId) -> Result<Self, MissingTools>;
}

/// A built plugin with its type erased.
pub trait DynPlugin: Send + Sync {
    /// See [`Plugin::on_boot`].
    fn boot(self: Arc<Self>) -> BoxFuture<'static, BootResult>;
    /// See [`Plugin::shutdown`].
    fn stop(self: Arc<Self>) -> BoxFuture<'static, BootResult>;
    /// The plugin itself, for tests that need the concrete type.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<P: Plugin> DynPlugin for P {
    fn boot(self: Arc<Self>) -> BoxFuture<'static, BootResult> {
        Box::pin(Plugin::on_boot(self))
    }
    fn stop(self: Arc<Self>) -> BoxFuture<'static, BootResult> {
        Box::pin(Plugin::shutdown(self))
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// Builds a plugin from an erased tool set.
pub type BuildFn =
    fn(&(dyn Any + Send + Sync), &PluginId) -> Result<Arc<dyn DynPlugin>, MissingTools>;

/// The static description `#[plugin]` registers for every plugin.
#[derive(Debug)]
pub struct PluginDescriptor {
    /// The struct's name.
    pub type_name: &'static str,
    /// `module_path!()` where the struct is declared.
    pub module_path: &'static str,
    /// `file!()` where the struct is declared.
    pub file: &'static str,
    /// The first line of the struct's doc comment.
    pub doc: &'static str,
    /// The tools it injects, in field order.
    pub tools: &'static [&'static str],
    /// The tool set type it is built from.
    pub tool_set: fn() -> TypeId,
    /// Builds it from a tool set of type `tool_set`.
    pub build: BuildFn,
}

/// Builds plugin `P` from an erased tool set; used by `#[plugin]`'s registration.
pub fn build_erased<P: PluginBuild>(
    tools: &(dyn Any + Send + Sync),
    id: &PluginId,
) -> Result<Arc<dyn DynPlugin>, MissingTools> {
    match tools.downcast_ref::<P::Tools>() {
        Some(tools) => P::build(tools, id).map(|p| Arc::new(p) as Arc<dyn DynPlugin>),
        None => Err(MissingTools(vec![(
            "*",
            Arc::from("the plugin was built against another tool set"),
        )])),
    }
}

/// Every plugin linked into the binary, in linker order (sort before use).
#[distributed_slice]
pub static PLUGINS: [PluginDescriptor];

/// The registered plugins built from tool set `T`, sorted by identity.
pub fn registered_plugins<T: ToolSet>() -> Vec<&'static PluginDescriptor> {
    let mut found: Vec<_> = PLUGINS
        .iter()
        .filter(|d| (d.tool_set)() == TypeId::of::<T>())
        .collect();
    found.sort_by_key(|d| d.id().name);
    found
}

/// A plugin's identity: `"<domain>.<Type>"`, plus where it lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PluginId {
    /// `"<domain>.<Type>"`.
    pub name: Arc<str>,
    /// The domain folder.
    pub domain: Arc<str>,
    /// The feature (file stem) when the plugin lives in `domains/<d>/plugins/<feature>.rs`.
    pub feature: Arc<str>,
    /// Source file relative to the project root (`domains/users/plugins/login.rs`).
    pub file: Arc<str>,
}

impl PluginDescriptor {
    /// The identity derived from where the struct is declared.
    pub fn id(&self) -> PluginId {
        let file = relative_file(self.file);
        let (domain, feature) = match domain_and_feature(&file) {
            Some((d, f)) => (d.to_owned(), f.to_owned()),
            None => {
                let segs: Vec<&str> = self.module_path.split("::").collect();
                let domain = match segs.as_slice() {
                    [.., d, _, "plugin"] => *d,
                    [.., last] => *last,
                    [] => "app",
                };
                (domain.to_owned(), self.type_name.to_owned())
            }
        };
        PluginId {
            name: format!("{domain}.{}", self.type_name).into(),
            domain: domain.into(),
            feature: feature.into(),
            file: file.into(),
        }
    }
}

impl PluginId {
    /// An identity for tests and tools: `<domain>.<Type>`.
    pub fn new(domain: &str, type_name: &str) -> Self {
        Self {
            name: format!("{domain}.{type_name}").into(),
            domain: domain.into(),
            feature: type_name.into(),
            file: Arc::from(""),
        }
    }
}

/// `…/domains/users/plugins/login.rs` → `domains/users/plugins/login.rs`; other paths unchanged.
fn relative_file(file: &str) -> String {
    let file = file.replace('\\', "/");
    match file.rfind("domains/") {
        Some(at) if at == 0 || file[..at].ends_with('/') => file[at..].to_owned(),
        _ => file,
    }
}

fn domain_and_feature(file: &str) -> Option<(&str, &str)> {
    let rest = file.strip_prefix("domains/")?;
    let mut parts = rest.split('/');
    let domain = parts.next()?;
    (parts.next()? == "plugins").then_some(())?;
    let feature = parts.next()?.strip_suffix(".rs")?;
    parts.next().is_none().then_some((domain, feature))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(module_path: &'static str, file: &'static str) -> PluginDescriptor {
        PluginDescriptor {
            type_name: "CreateUser",
            module_path,
            file,
            doc: "",
            tools: &[],
            tool_set: TypeId::of::<()>,
            build: |_, _| Err(MissingTools::default()),
        }
    }

    #[test]
    fn identity_comes_from_the_domain_folder_and_the_type() {
        let id = desc(
            "app::users::create_user::plugin",
            "/home/me/proj/domains/users/plugins/create_user.rs",
        )
        .id();
        assert_eq!(&*id.name, "users.CreateUser");
        assert_eq!(&*id.feature, "create_user");
        assert_eq!(
            &*id.file, "domains/users/plugins/create_user.rs",
            "no machine paths"
        );
    }

    #[test]
    fn plugins_outside_domains_take_their_module_as_domain() {
        let id = desc("kernel_tests::billing", "tests/kernel.rs").id();
        assert_eq!(&*id.name, "billing.CreateUser");
        assert_eq!(&*id.file, "tests/kernel.rs");
    }
}
