//! AWS clients, built once per Lambda environment.

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::error::Result;
use crate::input::LabPlan;

/// The clients of one account and region: home (side A) or the peer (side B).
#[derive(Clone, Debug)]
pub struct Scope {
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub region: String,
}

#[derive(Clone, Debug)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub region: String,
    /// The loaded configuration, to build clients for a peer account/region; None in tests.
    pub config: Option<SdkConfig>,
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
            ec2: aws_sdk_ec2::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            region,
            config: Some(config),
        }
    }

    /// Clients from ready-made service clients (tests with aws-smithy-mocks).
    pub fn from_clients(ec2: aws_sdk_ec2::Client, ssm: aws_sdk_ssm::Client, region: &str) -> Self {
        Clients {
            ec2,
            ssm,
            region: region.to_string(),
            config: None,
        }
    }

    /// The region side B lives in.
    pub fn peer_region(&self, lab: &LabPlan) -> String {
        lab.peer
            .as_ref()
            .and_then(|p| p.region.clone())
            .unwrap_or_else(|| self.region.clone())
    }

    /// The account these clients act in (STS GetCallerIdentity, which needs no permission).
    pub async fn account_id(&self) -> Result<String> {
        let config = self.config.as_ref().ok_or_else(|| {
            crate::error::LabError::invalid("no AWS configuration to ask STS for the account id")
        })?;
        let me = aws_sdk_sts::Client::new(config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| crate::error::aws_error("asking STS for the account id", e))?;
        me.account()
            .map(str::to_string)
            .ok_or_else(|| crate::error::LabError::invalid("STS returned no account id"))
    }

    pub fn home(&self) -> Scope {
        Scope {
            ec2: self.ec2.clone(),
            ssm: self.ssm.clone(),
            region: self.region.clone(),
        }
    }

    /// The clients for side B: the home ones, or ones in the peer region, with the accepter role's
    /// credentials when the peer is another account.
    pub async fn peer(&self, lab: &LabPlan) -> Result<Scope> {
        let (Some(peer), Some(config)) = (lab.peer.as_ref(), self.config.as_ref()) else {
            return Ok(self.home());
        };
        let region = Region::new(self.peer_region(lab));
        let mut builder = config.to_builder().region(region.clone());
        if let Some(role) = &peer.accepter_role_arn {
            // Assumed here, once per invocation (an hour's session outlives any step), so that a refusal is this
            // step's error naming the role and STS's code, not a credentials-provider failure at the first EC2 call.
            let sts = aws_sdk_sts::Client::new(&config.to_builder().region(region.clone()).build());
            let assumed = sts
                .assume_role()
                .role_arn(role)
                .role_session_name(format!("peerlab-{}", lab.lab_id))
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
            region: self.peer_region(lab),
        })
    }
}
