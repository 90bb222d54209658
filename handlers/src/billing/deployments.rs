//! The deployments as the statement prices them: name (case-insensitive) →
//! model, deployment type and, for provisioned (PTU) deployments, their cost;
//! and the Azure OpenAI account (and region) each lives in, which the FOCUS
//! export names and the invoice reconciliation matches by.
//! Built from the tenant's directory (whose seed file is `CHARGEBACK_DEPLOYMENTS`).

use std::collections::HashMap;

use crate::domain::{AccountId, Deployment, DeploymentType, Name, Provisioned, Region};

/// Deployment name → model, deployment type and PTU cost. Names are compared
/// case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct DeploymentCatalogue {
    by_name: HashMap<String, (String, Deployment)>,
}

impl DeploymentCatalogue {
    /// The deployment type of deployments nobody described.
    pub const DEFAULT_TYPE: DeploymentType = DeploymentType::DEFAULT;

    /// The catalogue of these deployments (by name).
    pub fn new<'a>(deployments: impl IntoIterator<Item = (&'a Name, &'a Deployment)>) -> Self {
        let by_name = deployments
            .into_iter()
            .map(|(name, d)| (name.as_str().to_ascii_lowercase(), (name.to_string(), d.clone())))
            .collect();
        Self { by_name }
    }

    /// The model a deployment serves, if described.
    pub fn model(&self, deployment: &str) -> Option<&str> {
        self.get(deployment).map(|d| d.model().as_str())
    }

    /// How a deployment is billed ([`Self::DEFAULT_TYPE`] when not described).
    pub fn deployment_type(&self, deployment: &str) -> DeploymentType {
        self.get(deployment).map_or(Self::DEFAULT_TYPE, Deployment::deployment_type)
    }

    /// The PTU cost of a provisioned deployment.
    pub fn provisioned(&self, deployment: &str) -> Option<Provisioned> {
        self.get(deployment).and_then(Deployment::provisioned)
    }

    /// The Azure OpenAI account a deployment belongs to, if described.
    pub fn resource_id(&self, deployment: &str) -> Option<&AccountId> {
        self.get(deployment).and_then(Deployment::resource_id)
    }

    /// The region of a deployment's account, if described.
    pub fn region(&self, deployment: &str) -> Option<&Region> {
        self.get(deployment).and_then(Deployment::region)
    }

    /// Whether an ARM id is the account of a described deployment.
    pub fn knows_account(&self, resource_id: &str) -> bool {
        self.by_name.values().any(|(_, d)| d.resource_id().is_some_and(|r| r.same_as(resource_id)))
    }

    /// Every provisioned deployment: (name as written, model, cost), by name.
    pub fn provisioned_deployments(&self) -> Vec<(&str, &str, Provisioned)> {
        let mut all: Vec<_> = self
            .by_name
            .values()
            .filter_map(|(name, d)| d.provisioned().map(|p| (name.as_str(), d.model().as_str(), p)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    fn get(&self, deployment: &str) -> Option<&Deployment> {
        self.by_name.get(&deployment.trim().to_ascii_lowercase()).map(|(_, d)| d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::seed::parse_deployments;

    #[test]
    fn names_are_compared_regardless_of_case_and_unlisted_ones_are_global() {
        let deployments =
            parse_deployments("deployment,model,deployment_type,ptu_monthly_cost\nChat-Prod,gpt-4o,provisioned,10\n")
                .unwrap();
        let catalogue = DeploymentCatalogue::new(&deployments);
        assert_eq!(catalogue.model("chat-prod"), Some("gpt-4o"));
        assert_eq!(catalogue.deployment_type("CHAT-PROD"), DeploymentType::Provisioned);
        assert_eq!(catalogue.deployment_type("not-listed"), DeploymentType::Global);
        assert_eq!(catalogue.provisioned_deployments().len(), 1);
    }

    #[test]
    fn deployments_name_their_account_and_region() {
        let id = "/subscriptions/0000/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-prod";
        let text = format!("deployment,model,resource_id,region\nchat,gpt-4o,{id}/,swedencentral\nptu,gpt-4.1,{id},\n");
        let catalogue = DeploymentCatalogue::new(&parse_deployments(&text).unwrap());
        assert_eq!(catalogue.resource_id("CHAT").map(AccountId::as_str), Some(id));
        assert_eq!(catalogue.region("chat").map(Region::as_str), Some("swedencentral"));
        assert_eq!(catalogue.region("ptu"), None);
        assert!(catalogue.knows_account(&id.to_uppercase()) && !catalogue.knows_account("/subscriptions/x"));
    }
}
