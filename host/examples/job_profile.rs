//! A job in Rust that knows nothing of lava-conn: it uses the AWS profile
//! `lava-conn exec` wrote for its connection, as any AWS SDK would.
//!
//! `lava-conn exec --conn aws1=CONN_ID -- job_profile aws1` prints the
//! identity the connection's credentials carry. With no argument it uses the
//! default chain (`AWS_PROFILE`, set when the job has one connection).

use aws_config::BehaviorVersion;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = std::env::args().nth(1) {
        loader = loader.profile_name(profile);
    }
    let config = loader.load().await;
    let who = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await?;
    println!("{}", who.arn().unwrap_or_default());
    Ok(())
}
