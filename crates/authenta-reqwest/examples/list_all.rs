//! Lists every media record of the account, page after page.
//!
//! ```text
//! AUTHENTA_CLIENT_ID=... AUTHENTA_CLIENT_SECRET=... \
//!     cargo run -p authenta-reqwest --example list_all
//! ```

use authenta_reqwest::Client;
use futures_util::TryStreamExt as _;

#[tokio::main]
async fn main() -> authenta_reqwest::Result<()> {
    let client = Client::from_env()?;
    let mut records = client.list_all();
    let mut count = 0u64;
    while let Some(media) = records.try_next().await? {
        count += 1;
        let fake = media.fake.map_or("-".to_owned(), |f| f.to_string());
        println!(
            "{}\t{}\t{}\t{}\t{fake}\t{}",
            media.mid, media.status, media.model_type, media.media_type, media.name
        );
    }
    eprintln!("{count} records");
    Ok(())
}
