//! The stand-ins a job can be handed: the contract's `launcher-kind`, one
//! definition for the connector SDK (which a connector names) and the host
//! (which writes each one).

/// A job-facing stand-in that the host writes itself from typed results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LauncherKind {
    /// lava's AWS CLI stand-in for the connection's AWS credentials.
    AwsCli,
    /// `psql` from the login: libpq variables and a `.pgpass`.
    Psql,
    /// `mysql` (MySQL or MariaDB) from the login: a defaults file.
    Mysql,
    /// `ssh` from the login: a 0600 key file and checked options.
    Ssh,
    /// `scp`, as `ssh`.
    Scp,
    /// `sftp`, as `ssh`.
    Sftp,
    /// `git` with `GIT_SSH_COMMAND`, as `ssh`.
    Git,
    /// `sqlplus` from the login, its password never on a command line.
    Sqlplus,
    /// `sqlite3` on the login's database file.
    Sqlite3,
    /// lava's generic attribute reader over the named values.
    Generic,
}

impl LauncherKind {
    /// The kind as the contract names it (`aws-cli`).
    pub fn as_str(self) -> &'static str {
        match self {
            LauncherKind::AwsCli => "aws-cli",
            LauncherKind::Psql => "psql",
            LauncherKind::Mysql => "mysql",
            LauncherKind::Ssh => "ssh",
            LauncherKind::Scp => "scp",
            LauncherKind::Sftp => "sftp",
            LauncherKind::Git => "git",
            LauncherKind::Sqlplus => "sqlplus",
            LauncherKind::Sqlite3 => "sqlite3",
            LauncherKind::Generic => "generic",
        }
    }
}
