//! The process environment: the one place the SDK reads variables for a
//! configuration (`authenta-proto` reads none; it takes a lookup).

use authenta_proto::{Config, ConfigError, Credentials};

/// The configuration of the environment: `AUTHENTA_API_KEY`, or
/// `AUTHENTA_CLIENT_ID` and `AUTHENTA_CLIENT_SECRET` (setting both kinds
/// is an error that says which to unset); and, if set,
/// `AUTHENTA_BASE_URL` ([`Config::from_lookup`] over the process
/// environment).
///
/// ```
/// // Without any of the variables, the error names the one to set.
/// # if std::env::var_os("AUTHENTA_API_KEY").is_none() && std::env::var_os("AUTHENTA_CLIENT_ID").is_none() {
/// let err = authenta_client::config_from_env().unwrap_err();
/// assert_eq!(err.to_string(), authenta_client::proto::ConfigError::MissingVariable("AUTHENTA_API_KEY").to_string());
/// # }
/// ```
pub fn config_from_env() -> Result<Config, ConfigError> {
    Config::from_lookup(variable)
}

/// [`Config::resolve_with`] over the process environment: `credentials`
/// when given, else the variables; then the base URL and user agent given.
pub(crate) fn resolve(
    credentials: Option<Credentials>,
    base_url: Option<&str>,
    user_agent: Option<&str>,
) -> Result<Config, ConfigError> {
    Config::resolve_with(credentials, base_url, user_agent, variable)
}

/// A variable's value (`None` when unset or not UTF-8).
pub(crate) fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
