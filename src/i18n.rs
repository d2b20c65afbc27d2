//! The language people read (README, "Language / 语言").
//!
//! Every sentence a person reads lives in `locales/en.yml` and
//! `locales/zh-CN.yml`, read through `rust-i18n` (compiled into the binary;
//! `t!(KEY, name = value)` fills `%{name}`). A binary calls [`init()`]
//! (or [`parse()`], which calls it) before it says anything; library code
//! then writes `t!(…)` and gets the user's language.
//!
//! What programs read stays as it is in every language: stdout records and
//! JSON, exit codes, the room's `!` lines on the wire, and the stderr lines
//! scripts wait for (`listening on`, `Chat server started on`, `Web page
//! on`, `GUI on`), which are written without the catalog.
//!
//! clap's own words ("Usage:", "Options:", "Print help", "[default: …]",
//! its errors) come from the catalog too: [`localize()`] rewrites a
//! command's help and [`usage_error()`] words a parse error.

use std::borrow::Cow;
use std::fmt::Write as _;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use rust_i18n::t;

/// A language of the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English (the default).
    En,
    /// Simplified Chinese.
    ZhCn,
}

impl Lang {
    /// The catalog's name for it (a BCP 47 tag).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The language a locale name or tag asks for: `zh…` (`zh_CN.UTF-8`,
    /// `zh-CN`, `zh_TW`) is Chinese, `en…`, `C` and `POSIX` English;
    /// `None` for anything else.
    pub fn from_locale(name: &str) -> Option<Lang> {
        let lower = name.trim().to_ascii_lowercase();
        if lower.starts_with("zh") {
            Some(Lang::ZhCn)
        } else if lower.starts_with("en")
            || lower == "c"
            || lower.starts_with("c.")
            || lower == "posix"
        {
            Some(Lang::En)
        } else {
            None
        }
    }
}

/// Which language to speak: `LANCHAT_LANG` (`en`, `zh-CN`) if it names one,
/// else the system's (`system`: the POSIX locale variables, or Windows' UI
/// language), else English.
pub fn choose(override_var: Option<&str>, system: Option<&str>) -> Lang {
    override_var
        .and_then(Lang::from_locale)
        .or_else(|| system.and_then(Lang::from_locale))
        .unwrap_or(Lang::En)
}

/// Sets the language of everything this process says, from the
/// environment. Idempotent; binaries call it first.
pub fn init() -> Lang {
    let lang = choose(
        std::env::var("LANCHAT_LANG").ok().as_deref(),
        crate::sys::system_language().as_deref(),
    );
    rust_i18n::set_locale(lang.code());
    lang
}

/// The language in use.
pub fn current() -> Lang {
    if &*rust_i18n::locale() == "zh-CN" {
        Lang::ZhCn
    } else {
        Lang::En
    }
}

/// Every key of `locale` under `prefix`, with its text (for the page's
/// own catalog and the tests).
pub fn messages(locale: &str, prefix: &str) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = crate::_rust_i18n_backend()
        .messages_for_locale(locale)
        .unwrap_or_default()
        .into_iter()
        .filter(|(key, _)| key.starts_with(prefix))
        .map(|(key, text)| (key.into_owned(), text.into_owned()))
        .collect();
    all.sort();
    all
}

/// The catalogs' locales.
pub const LOCALES: [&str; 2] = ["en", "zh-CN"];

/// Parses the command line of a binary in the user's language: [`init()`],
/// then [`localize()`]; `--help` and `--version` print and exit 0, a bad
/// command line prints [`usage_error()`] and exits 2.
pub fn parse<P: clap::Parser>() -> P {
    parse_from(std::env::args_os())
}

/// [`parse()`] of the given arguments (the program's name first).
pub fn parse_from<P, I, T>(args: I) -> P
where
    P: clap::Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    init();
    let mut cmd = localize(P::command());
    let matches = match cmd.try_get_matches_from_mut(args) {
        Ok(m) => m,
        Err(err) => exit_with(&mut cmd, &err),
    };
    match P::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(err) => exit_with(&mut cmd, &err),
    }
}

fn exit_with(cmd: &mut clap::Command, err: &clap::Error) -> ! {
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => err.exit(),
        _ => {
            crate::status::say(usage_error(cmd, err).trim_end());
            std::process::exit(crate::exit::USAGE.into())
        }
    }
}

/// `cmd` with clap's own words from the catalog: the usage and option
/// headings, `[default: …]` and `[possible values: …]`, the help and
/// version flags. (The definitions take their help from the catalog with
/// `help = t!(…)`.)
pub fn localize(cmd: clap::Command) -> clap::Command {
    let has_version = cmd.get_version().is_some();
    let mut cmd = cmd.disable_help_flag(true).disable_version_flag(true).arg(
        clap::Arg::new("help")
            .short('h')
            .long("help")
            .action(clap::ArgAction::Help)
            .help(t!("clap.help").into_owned()),
    );
    if has_version {
        cmd = cmd.arg(
            clap::Arg::new("version")
                .short('V')
                .long("version")
                .action(clap::ArgAction::Version)
                .help(t!("clap.version").into_owned()),
        );
    }
    // clap writes "Options:" and "Arguments:" itself; the template names
    // the sections in the catalog's words instead.
    let positionals = cmd.get_positionals().any(|a| !a.is_hide_set());
    let mut template = format!(
        "{{about-with-newline}}\n{}\n\n",
        t!("clap.usage", usage = "{usage}")
    );
    if positionals {
        let _ = write!(template, "{}\n{{positionals}}\n\n", t!("clap.arguments"));
    }
    let _ = write!(
        template,
        "{}\n{{options}}{{after-help}}",
        t!("clap.options")
    );
    cmd = cmd.help_template(template);
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        cmd = cmd.mut_arg(id, |arg| {
            if !arg.get_action().takes_values() {
                return arg;
            }
            let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() && !arg.is_hide_default_value_set() {
                help.push_str(&t!("clap.default", value = defaults.join(", ")));
            }
            let possible: Vec<String> = arg
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_string())
                .collect();
            if !possible.is_empty() && !arg.is_hide_possible_values_set() {
                help.push_str(&t!("clap.possible", values = possible.join(", ")));
            }
            arg.help(help)
                .hide_default_value(true)
                .hide_possible_values(true)
        });
    }
    cmd
}

fn context(err: &clap::Error, kind: ContextKind) -> String {
    match err.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        Some(ContextValue::Number(n)) => n.to_string(),
        Some(ContextValue::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn quoted(list: &[String]) -> String {
    list.iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn strings(err: &clap::Error, kind: ContextKind) -> Vec<String> {
    match err.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    }
}

/// A parse error in the user's language: the one-line reason, a tip where
/// clap has one, the usage line and where to read more (as clap writes it,
/// in the catalog's words).
pub fn usage_error(cmd: &mut clap::Command, err: &clap::Error) -> String {
    let arg = context(err, ContextKind::InvalidArg);
    let value = context(err, ContextKind::InvalidValue);
    let reason: Cow<str> = match err.kind() {
        ErrorKind::UnknownArgument => t!("clap.error.unknown", arg = arg),
        ErrorKind::InvalidValue if value.is_empty() => t!("clap.error.needs_value", arg = arg),
        ErrorKind::InvalidValue => t!(
            "clap.error.invalid_value",
            value = value,
            arg = arg,
            values = strings(err, ContextKind::ValidValue).join(", ")
        ),
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(err)
                .map(|e| std_reason(e, &arg, &value))
                .unwrap_or_default();
            t!("clap.error.validation", value = value, arg = arg, why = why)
        }
        ErrorKind::MissingRequiredArgument => t!(
            "clap.error.missing",
            args = strings(err, ContextKind::InvalidArg).join(", ")
        ),
        ErrorKind::ArgumentConflict => {
            let other = strings(err, ContextKind::PriorArg);
            if other.is_empty() {
                t!("clap.error.conflict_self", arg = arg)
            } else {
                t!("clap.error.conflict", arg = arg, other = quoted(&other))
            }
        }
        ErrorKind::TooManyValues => t!("clap.error.too_many", value = value, arg = arg),
        ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => t!(
            "clap.error.count",
            arg = arg,
            expected = context(err, ContextKind::ExpectedNumValues),
            actual = context(err, ContextKind::ActualNumValues)
        ),
        ErrorKind::NoEquals => t!("clap.error.no_equals", arg = arg),
        ErrorKind::InvalidSubcommand | ErrorKind::MissingSubcommand => t!(
            "clap.error.subcommand",
            name = context(err, ContextKind::InvalidSubcommand)
        ),
        ErrorKind::InvalidUtf8 => t!("clap.error.utf8"),
        _ => Cow::Owned(err.kind().to_string()),
    };
    let mut out = format!("{}\n", t!("clap.error.prefix", reason = reason));
    if let Some(suggestion) = strings(err, ContextKind::SuggestedArg).first() {
        let _ = writeln!(out, "\n  {}", t!("clap.error.tip", arg = suggestion));
    }
    if let Some(suggestion) = strings(err, ContextKind::SuggestedValue).first() {
        let _ = writeln!(out, "\n  {}", t!("clap.error.tip", arg = suggestion));
    }
    if err.kind() == ErrorKind::UnknownArgument && arg.starts_with('-') && arg.len() > 1 {
        let _ = writeln!(out, "\n  {}", t!("clap.error.tip_dash", arg = arg));
    }
    out.push_str(&usage_tail(cmd));
    out
}

/// The std parsers' own errors (a port, an address) in the catalog's words;
/// lanchat's parsers already speak the user's language.
fn std_reason(err: &(dyn std::error::Error + 'static), arg: &str, value: &str) -> String {
    use std::num::IntErrorKind;
    if let Some(e) = err.downcast_ref::<std::num::ParseIntError>() {
        return match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
                t!("clap.error.too_large", value = value).into_owned()
            }
            _ => t!("clap.error.not_number", value = value).into_owned(),
        };
    }
    if err.is::<std::net::AddrParseError>() {
        return if arg.contains("PORT>") {
            t!("clap.error.not_socket_addr", value = value).into_owned()
        } else {
            t!("clap.error.not_ip", value = value).into_owned()
        };
    }
    // clap's ranged parsers (a port): "99999 is not in 0..=65535".
    let text = err.to_string();
    if let Some((_, range)) = text.split_once(" is not in ") {
        if let Some((min, max)) = range.split_once("..=") {
            return t!("clap.error.range", value = value, min = min, max = max).into_owned();
        }
    }
    text
}

fn usage_tail(cmd: &mut clap::Command) -> String {
    let usage = cmd.render_usage().to_string();
    let usage = usage.trim_start_matches("Usage:").trim();
    format!(
        "\n{}\n\n{}\n",
        t!("clap.usage", usage = usage),
        t!("clap.error.more")
    )
}

/// A usage error the binary finds itself (options that do not go
/// together): `message` (already in the user's language), the usage line,
/// where to read more; exit 2.
pub fn refuse(cmd: clap::Command, message: &str) -> ! {
    let mut cmd = localize(cmd);
    let text = format!(
        "{}\n{}",
        t!("clap.error.prefix", reason = message),
        usage_tail(&mut cmd)
    );
    crate::status::say(text.trim_end());
    std::process::exit(crate::exit::USAGE.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_variables_choose_the_language() {
        assert_eq!(choose(None, Some("zh_CN.UTF-8")), Lang::ZhCn);
        assert_eq!(choose(None, Some("zh-CN")), Lang::ZhCn);
        assert_eq!(choose(None, Some("zh_TW.UTF-8")), Lang::ZhCn);
        assert_eq!(choose(None, Some("C.UTF-8")), Lang::En);
        assert_eq!(choose(None, Some("POSIX")), Lang::En);
        assert_eq!(choose(None, Some("de_DE.UTF-8")), Lang::En);
        assert_eq!(choose(None, None), Lang::En);
        assert_eq!(choose(Some("en"), Some("zh_CN.UTF-8")), Lang::En);
        assert_eq!(choose(Some("zh-CN"), Some("C.UTF-8")), Lang::ZhCn);
        // A value it does not know leaves the choice to the locale.
        assert_eq!(choose(Some("klingon"), Some("zh_CN.UTF-8")), Lang::ZhCn);
    }

    #[test]
    fn every_message_is_in_both_languages() {
        let keys =
            |locale| -> Vec<String> { messages(locale, "").into_iter().map(|(k, _)| k).collect() };
        let en = keys("en");
        let zh = keys("zh-CN");
        assert!(en.len() > 50, "the English catalog is nearly empty");
        let only_en: Vec<_> = en.iter().filter(|k| !zh.contains(k)).collect();
        let only_zh: Vec<_> = zh.iter().filter(|k| !en.contains(k)).collect();
        assert!(only_en.is_empty(), "only in en.yml: {only_en:?}");
        assert!(only_zh.is_empty(), "only in zh-CN.yml: {only_zh:?}");
    }

    #[test]
    fn both_languages_fill_the_same_placeholders() {
        let placeholders = |text: &str| -> Vec<String> {
            let mut found: Vec<String> = text
                .split("%{")
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
                .collect();
            found.sort();
            found.dedup();
            found
        };
        let zh: std::collections::HashMap<_, _> = messages("zh-CN", "").into_iter().collect();
        for (key, en) in messages("en", "") {
            let Some(zh) = zh.get(&key) else { continue };
            assert_eq!(placeholders(&en), placeholders(zh), "{key}");
        }
    }

    #[test]
    fn every_key_the_code_asks_for_is_in_the_catalog() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let en: Vec<String> = messages("en", "").into_iter().map(|(k, _)| k).collect();
        let mut missing = Vec::new();
        let mut seen = 0;
        for dir in ["src", "bin"] {
            for path in rust_files(&root.join(dir)) {
                let text = std::fs::read_to_string(&path).unwrap();
                for (at, _) in text.match_indices("t!(\"") {
                    // `t!`, not `format!` or `print!`.
                    let before = text[..at].chars().next_back().unwrap_or(' ');
                    if before.is_alphanumeric() || before == '_' {
                        continue;
                    }
                    let rest = &text[at + 4..];
                    let key = rest.split('"').next().unwrap_or_default();
                    seen += 1;
                    if !en.iter().any(|k| k == key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(seen > 50, "found only {seen} t!(…) calls");
        assert!(missing.is_empty(), "keys not in the catalog: {missing:#?}");
    }

    fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
        out
    }

    #[test]
    fn chinese_text_uses_full_width_punctuation_after_chinese() {
        // "，" not ", " and "：" not ": " right after a Chinese character.
        for (key, text) in messages("zh-CN", "") {
            let chars: Vec<char> = text.chars().collect();
            for pair in chars.windows(2) {
                let cjk = ('\u{4e00}'..='\u{9fff}').contains(&pair[0]);
                assert!(
                    !(cjk && matches!(pair[1], ',' | ':' | ';' | '?' | '!' | '(')),
                    "{key}: half-width '{}' after Chinese in {text:?}",
                    pair[1]
                );
            }
        }
    }
}
