//! AWS clients, built once per Lambda environment, and the `Aws` trait the steps take them through.

use std::future::Future;

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::error::Result;

/// The clients of one account and region: home (side A) or the peer (side B).
#[derive(Clone, Debug)]
pub struct Scope {
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub region: String,
}

/// Where side B's clients act when it is not the home scope: another region (None: the home one) and, in another
/// account, the role to assume there. `lab_id` names the assumed role's session (`peerlab-<lab id>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAccess<'a> {
    pub region: Option<&'a str>,
    pub role_arn: Option<&'a str>,
    pub lab_id: &'a str,
}

/// What a step asks of AWS: side A's clients (the function's own account and region), side B's, and the account
/// A's clients act in. `Clients` is AWS's; the tests give their own, with mocked clients for each side.
pub trait Aws: Sync {
    /// Side A's account and region.
    fn home(&self) -> Scope;
    /// Side B's: the home scope (`None`: the lab has no peer), or clients in the peer region, as the peer
    /// account's accepter role (`LabPlan::peer_access`).
    fn peer(&self, access: Option<PeerAccess<'_>>) -> impl Future<Output = Result<Scope>> + Send;
    /// The account the home clients act in.
    fn account_id(&self) -> impl Future<Output = Result<String>> + Send;
    /// Service Quotas in the home account and region (the workshop's preflight reads the quotas labs meet).
    fn service_quotas(&self) -> aws_sdk_servicequotas::Client;
}

/// The clients of a Lambda environment: its own account and region, and its configuration to build side B's.
#[derive(Clone, Debug)]
pub struct Clients {
    home: Scope,
    service_quotas: aws_sdk_servicequotas::Client,
    config: SdkConfig,
}

impl Clients {
    /// Load the environment's configuration (region, credentials, AWS_ENDPOINT_URL for the local AWS) once.
    /// The region comes from the environment (always set in Lambda) or the profile, never from instance
    /// metadata: outside AWS that would be a request to 169.254.169.254.
    pub async fn from_env() -> Self {
        let region = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
            .or_else(ProfileFileRegionProvider::new())
            .or_else(Region::new("us-east-1"));
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .load()
            .await;
        Self::from_config(config)
    }

    pub fn from_config(config: SdkConfig) -> Self {
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        Clients {
            home: Scope {
                ec2: aws_sdk_ec2::Client::new(&config),
                ssm: aws_sdk_ssm::Client::new(&config),
                region,
            },
            service_quotas: aws_sdk_servicequotas::Client::new(&config),
            config,
        }
    }
}

impl Aws for Clients {
    fn home(&self) -> Scope {
        self.home.clone()
    }

    fn service_quotas(&self) -> aws_sdk_servicequotas::Client {
        self.service_quotas.clone()
    }

    /// The account these clients act in (STS GetCallerIdentity, which needs no permission).
    async fn account_id(&self) -> Result<String> {
        let me = aws_sdk_sts::Client::new(&self.config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| crate::error::aws_error("asking STS for the account id", e))?;
        me.account()
            .map(str::to_string)
            .ok_or_else(|| crate::error::LabError::invalid("STS returned no account id"))
    }

    /// The clients for side B: the home ones, or ones in the peer region, with the accepter role's
    /// credentials when the peer is another account.
    async fn peer(&self, access: Option<PeerAccess<'_>>) -> Result<Scope> {
        let Some(access) = access else {
            return Ok(self.home());
        };
        let config = &self.config;
        let region = Region::new(access.region.unwrap_or(&self.home.region).to_string());
        let mut builder = config.to_builder().region(region.clone());
        if let Some(role) = access.role_arn {
            // Assumed here, once per invocation (an hour's session outlives any step), so that a refusal is this
            // step's error naming the role and STS's code, not a credentials-provider failure at the first EC2 call.
            let sts = aws_sdk_sts::Client::new(&config.to_builder().region(region.clone()).build());
            let assumed = sts
                .assume_role()
                .role_arn(role)
                .role_session_name(format!("peerlab-{}", access.lab_id))
                .send()
                .await
                .map_err(|e| {
                    crate::error::aws_error(&format!("assuming the peer account's role {role}"), e)
                })?;
            let credentials = assumed
                .credentials()
                .ok_or_else(|| crate::error::LabError::Aws {
                    code: "IncompleteResponse".into(),
                    message: format!("AWS answered without credentials for {role}"),
                })?;
            let expiry = std::time::SystemTime::try_from(*credentials.expiration()).ok();
            builder = builder.credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        credentials.access_key_id(),
                        credentials.secret_access_key(),
                        Some(credentials.session_token().to_string()),
                        expiry,
                        "peerlab-accepter-role",
                    ),
                ),
            );
        }
        let config = builder.build();
        Ok(Scope {
            ec2: aws_sdk_ec2::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            region: region.to_string(),
        })
    }
}
