//! The `TenantPartitions` port: what a tenant owns in a backend beyond its registry record
//! (its key, its stored items, files and search index), created when the tenant is
//! provisioned and removed, crypto-shredding first, when it is deleted.

use std::sync::Arc;

use async_trait::async_trait;
use hearth_tenancy::TenantId;

use crate::StoreError;

/// Reports a step of a long `destroy` (for logs and admin output).
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

#[async_trait]
pub trait TenantPartitions: Send + Sync + 'static {
    /// Creates whatever must exist before the tenant's first write (its key first). Ok when
    /// it exists already, so a failed provision may be run again.
    async fn provision(&self, tenant: &TenantId) -> Result<(), StoreError>;

    /// Destroys the tenant's key first, so everything sealed under it is unreadable at once,
    /// then removes the tenant's data everywhere this backend keeps it. Idempotent and
    /// resumable: a destroy that failed part-way finishes when run again, and a destroy of a
    /// tenant with nothing left is Ok. `progress` hears of each step done.
    async fn destroy(&self, tenant: &TenantId, progress: Progress<'_>) -> Result<(), StoreError>;
}

/// Several backends' partitions, provisioned and destroyed one after another in order (the
/// first error stops the walk; running it again resumes, since each part is idempotent).
/// Empty, it does nothing: the default where the tenant registry owns every partition.
#[derive(Clone, Default)]
pub struct Partitions(pub Vec<Arc<dyn TenantPartitions>>);

#[async_trait]
impl TenantPartitions for Partitions {
    async fn provision(&self, tenant: &TenantId) -> Result<(), StoreError> {
        for part in &self.0 {
            part.provision(tenant).await?;
        }
        Ok(())
    }

    async fn destroy(&self, tenant: &TenantId, progress: Progress<'_>) -> Result<(), StoreError> {
        for part in &self.0 {
            part.destroy(tenant, progress).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Records its calls in a shared log; fails `destroy` when told to.
    struct Part {
        name: &'static str,
        log: Arc<Mutex<Vec<String>>>,
        fail: bool,
    }

    #[async_trait]
    impl TenantPartitions for Part {
        async fn provision(&self, tenant: &TenantId) -> Result<(), StoreError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("provision {} {tenant}", self.name));
            Ok(())
        }

        async fn destroy(
            &self,
            tenant: &TenantId,
            progress: Progress<'_>,
        ) -> Result<(), StoreError> {
            if self.fail {
                return Err(StoreError::Busy(format!("{} failed", self.name)));
            }
            progress(self.name);
            self.log
                .lock()
                .unwrap()
                .push(format!("destroy {} {tenant}", self.name));
            Ok(())
        }
    }

    fn parts(log: &Arc<Mutex<Vec<String>>>, fail_second: bool) -> Partitions {
        let part = |name, fail| -> Arc<dyn TenantPartitions> {
            Arc::new(Part {
                name,
                log: log.clone(),
                fail,
            })
        };
        Partitions(vec![
            part("a", false),
            part("b", fail_second),
            part("c", false),
        ])
    }

    #[tokio::test]
    async fn parts_run_in_order_and_stop_at_the_first_error() {
        let tenant: TenantId = "acme".parse().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let heard = Mutex::new(Vec::new());
        let progress = |step: &str| heard.lock().unwrap().push(step.to_owned());

        parts(&log, false).provision(&tenant).await.unwrap();
        parts(&log, false)
            .destroy(&tenant, &progress)
            .await
            .unwrap();
        let err = parts(&log, true)
            .destroy(&tenant, &progress)
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert_eq!(
            *log.lock().unwrap(),
            [
                "provision a acme",
                "provision b acme",
                "provision c acme",
                "destroy a acme",
                "destroy b acme",
                "destroy c acme",
                "destroy a acme",
            ]
        );
        assert_eq!(*heard.lock().unwrap(), ["a", "b", "c", "a"]);
    }

    #[tokio::test]
    async fn no_parts_do_nothing() {
        let tenant: TenantId = "acme".parse().unwrap();
        Partitions::default().provision(&tenant).await.unwrap();
        Partitions::default()
            .destroy(&tenant, &|_| {})
            .await
            .unwrap();
    }
}
