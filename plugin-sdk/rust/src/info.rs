//! What a plugin says of itself: [`Info`], with its parameters declared as [`Param`]s.
//!
//! Both are built in `const` context, so a plugin's description is one constant:
//!
//! ```
//! use weir_plugin_sdk::{Info, Param};
//! const INFO: Info = Info::new("my_filter")
//!     .version("1.2.0")
//!     .description("Adds a field")
//!     .params(&[
//!         Param::string("key").default("lang").description("Field to add"),
//!         Param::integer("limit").required(),
//!     ]);
//! ```

use crate::event::Format;

/// The types the host validates a parameter's value against, as for Weir's native plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    Double,
    /// `on`/`off`, `true`/`false`, `yes`/`no`.
    Boolean,
    /// `512`, `4K`, `10M`, `1G`.
    Size,
    /// `500ms`, `2s`, `1.5`, `1m`.
    Time,
    /// A comma-separated list.
    List,
}

/// One parameter of the plugin's configuration section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamType,
    /// Used when the configuration does not set the parameter.
    pub default: Option<&'static str>,
    pub required: bool,
    pub description: &'static str,
}

impl Param {
    /// A parameter of type `kind`, optional, without default or description.
    pub const fn new(name: &'static str, kind: ParamType) -> Self {
        Self {
            name,
            kind,
            default: None,
            required: false,
            description: "",
        }
    }
    pub const fn string(name: &'static str) -> Self {
        Self::new(name, ParamType::String)
    }
    pub const fn integer(name: &'static str) -> Self {
        Self::new(name, ParamType::Integer)
    }
    pub const fn double(name: &'static str) -> Self {
        Self::new(name, ParamType::Double)
    }
    pub const fn boolean(name: &'static str) -> Self {
        Self::new(name, ParamType::Boolean)
    }
    pub const fn size(name: &'static str) -> Self {
        Self::new(name, ParamType::Size)
    }
    pub const fn time(name: &'static str) -> Self {
        Self::new(name, ParamType::Time)
    }
    pub const fn list(name: &'static str) -> Self {
        Self::new(name, ParamType::List)
    }
    /// The value used when the configuration does not set the parameter.
    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }
    /// The configuration must set the parameter.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// One line for `weir plugins NAME`.
    pub const fn description(mut self, text: &'static str) -> Self {
        self.description = text;
        self
    }
}

/// A plugin's name, version, description, event format and parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// The name configurations use (`name wasm_...` is the host's business; this is what
    /// `weir plugins` shows).
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    pub format: Format,
    pub params: &'static [Param],
}

impl Info {
    /// A plugin named `name`, version `0.1.0`, MessagePack events, no parameters.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            version: "0.1.0",
            description: "",
            format: Format::Msgpack,
            params: &[],
        }
    }
    /// Usually `env!("CARGO_PKG_VERSION")`.
    pub const fn version(mut self, version: &'static str) -> Self {
        self.version = version;
        self
    }
    pub const fn description(mut self, text: &'static str) -> Self {
        self.description = text;
        self
    }
    pub const fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }
    pub const fn params(mut self, params: &'static [Param]) -> Self {
        self.params = params;
        self
    }
    /// The declared parameter named `name` (names compare without case, as Fluent Bit's).
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: Info = Info::new("x")
        .version("2.0.0")
        .description("d")
        .format(Format::Json)
        .params(&[
            Param::string("key").default("lang").description("k"),
            Param::size("buf").required(),
        ]);

    #[test]
    fn builds_in_const_context() {
        assert_eq!(INFO.version, "2.0.0");
        assert_eq!(INFO.format, Format::Json);
        assert_eq!(INFO.param("KEY").and_then(|p| p.default), Some("lang"));
        assert!(INFO
            .param("buf")
            .is_some_and(|p| p.required && p.kind == ParamType::Size));
        assert!(INFO.param("nope").is_none());
    }
}
