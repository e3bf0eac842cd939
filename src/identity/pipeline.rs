//! The Azure Pipelines job token: `SYSTEM_ACCESSTOKEN` of a job (`TF_BUILD=True`), for the one
//! organization the job runs in (`SYSTEM_COLLECTIONURI`), never another.

use crate::config::Settings;
use crate::org::Target;
use crate::secret::Secret;

/// What a pipeline job sets.
#[derive(Debug, Clone)]
pub struct Job {
    pub token: Secret,
    /// `SYSTEM_COLLECTIONURI` (`https://dev.azure.com/ORG/` or `https://ORG.visualstudio.com/`).
    pub collection_uri: Option<String>,
}

/// The job's variables from the environment: `TF_BUILD=True` and a non-empty `SYSTEM_ACCESSTOKEN`.
pub fn job(env: crate::config::Env) -> Option<Job> {
    let text = |name: &str| env(name).map(|v| v.to_string_lossy().trim().to_owned()).filter(|v| !v.is_empty());
    if !text("TF_BUILD").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    let token = text("SYSTEM_ACCESSTOKEN")?;
    Some(Job { token: Secret::from(token), collection_uri: text("SYSTEM_COLLECTIONURI") })
}

/// The organization a collection URI names, read like the organization URLs git asks about
/// (dev.azure.com, `ORG.visualstudio.com`, or the `azdo.url` origin).
pub fn organization(collection_uri: &str, settings: &Settings) -> Option<Target> {
    organization_in(collection_uri, &settings.instances)
}

/// The organization as the URI literally names it: a dev.azure.com or visualstudio.com URI
/// names one of the real service (whose job token never goes to another `azdo.url` origin), any
/// other must be on the `azdo.url` origin.
fn organization_in(collection_uri: &str, instances: &crate::org::Instances) -> Option<Target> {
    if !collection_uri.contains("://") {
        return None;
    }
    let real = crate::org::Instances::default();
    if let Ok(target) = Target::from_arg(collection_uri, &real) {
        return (instances.services == real.services && !target.is_server()).then_some(target);
    }
    Target::from_arg(collection_uri, instances).ok().filter(|t| !t.is_server() && !t.is_real_service())
}

/// The job token, when a job runs in `target`'s organization and `azdo.pipelineToken` allows it.
pub fn token_for(settings: &Settings, ids: &super::IdentitySettings, target: &Target) -> Option<Secret> {
    let job = ids.pipeline.as_ref().filter(|_| ids.pipeline_token)?;
    let Some(uri) = job.collection_uri.as_deref() else {
        tracing::info!(%target, "SYSTEM_ACCESSTOKEN is set but SYSTEM_COLLECTIONURI is not: not using the job token");
        return None;
    };
    match organization(uri, settings) {
        // The job's organization, whichever account is named for the URL: the job token is the
        // build's own identity, not a person's.
        Some(org) if org.clone().with_account(None).ok() == target.clone().with_account(None).ok() => {
            Some(job.token.clone())
        }
        _ => {
            tracing::info!(%target, "the pipeline's job token is for another organization: not using it");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::{Instances, ServiceUrl};

    #[test]
    fn the_collection_uri_names_the_organization_in_either_form() {
        let default = Instances::default();
        let contoso = Target::org("contoso").expect("org");
        for uri in
            ["https://dev.azure.com/contoso/", "https://contoso.visualstudio.com/", "https://Contoso.visualstudio.com"]
        {
            assert_eq!(organization_in(uri, &default), Some(contoso.clone()), "{uri}");
        }
        assert_eq!(organization_in("contoso", &default), None, "a bare name is not a collection URI");
        assert_eq!(organization_in("https://evil.example/contoso/", &default), None);
        let fake = ServiceUrl::parse("http://127.0.0.1:8123").expect("origin");
        let instances = Instances { services: fake.clone(), servers: Vec::new() };
        let on_fake = Target::org_in(&fake, "contoso").expect("org");
        assert_eq!(organization_in("http://127.0.0.1:8123/contoso/", &instances), Some(on_fake));
        // The real service's job token never goes to another origin.
        assert_eq!(organization_in("https://dev.azure.com/contoso/", &instances), None);
        assert_eq!(organization_in("https://contoso.visualstudio.com/", &instances), None);
        assert_eq!(organization_in("http://127.0.0.1:8123/contoso/", &default), None);
    }

    #[test]
    fn only_a_pipeline_job_with_a_token_counts() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| std::ffi::OsString::from(v))
        };
        assert!(job(&env(&[("TF_BUILD", "True"), ("SYSTEM_ACCESSTOKEN", "t")])).is_some());
        assert!(job(&env(&[("TF_BUILD", "true"), ("SYSTEM_ACCESSTOKEN", " ")])).is_none());
        assert!(job(&env(&[("SYSTEM_ACCESSTOKEN", "t")])).is_none());
        assert!(format!("{:?}", job(&env(&[("TF_BUILD", "True"), ("SYSTEM_ACCESSTOKEN", "j0b-s3cret")])))
            .find("j0b-s3cret")
            .is_none());
    }
}
