//! From a loaded configuration to a pipeline ready to run, with every error found up front.
//!
//! Building validates everything (the service section, every plugin's parameters, parsers,
//! regular expressions) before anything starts, so a broken configuration never half-runs.
//! `--dry-run` stops after this step.

use crate::context::{BuildContext, EmitterRequest, OutputContext};
use crate::ingest::FilterInstance;
use crate::metrics::{FilterMetrics, InputMetrics, Metrics, OutputMetrics};
use crate::output::{DiskLimit, OutputRuntime, WhenFull};
use crate::plugin::{Factory, Input, PluginDescriptor, PluginKind, Registry};
use crate::router::TagMatcher;
use crate::scheduler::RetryLimit;
use crate::service::{
    ServiceConfig, FILTER_COMMON_PARAMS, INPUT_COMMON_PARAMS, OUTPUT_COMMON_PARAMS,
};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use weir_config::{Config, ConfigError, Params, Section};
use weir_parser::ParserRegistry;

/// A pipeline built and validated, not yet running.
pub struct Pipeline {
    pub service: Arc<ServiceConfig>,
    pub metrics: Arc<Metrics>,
    pub parsers: Arc<ParserRegistry>,
    pub(crate) inputs: Vec<InputSlot>,
    pub(crate) filters: Vec<FilterSlot>,
    pub(crate) outputs: Vec<OutputSlot>,
    /// Every file the pipeline was built from: the configuration and its includes, parsers
    /// files, and files plugins load (scripts, modules). `hot_reload.watch` watches these.
    pub watch_files: Vec<PathBuf>,
}

/// What identifies a component across a hot reload: its kind, plugin, instance name, every
/// property, the contents of files it loads, and for inputs and filters the parsers. Equal
/// fingerprints mean the component is left running.
pub(crate) type Fingerprint = u64;

pub(crate) struct InputSlot {
    pub name: Arc<str>,
    pub plugin: &'static str,
    pub tag: Arc<str>,
    pub input: Box<dyn Input>,
    pub metrics: Arc<InputMetrics>,
    /// `mem_buf_limit` in bytes, if set.
    pub mem_buf_limit: Option<u64>,
    /// `storage.type filesystem`.
    pub filesystem: bool,
    pub fingerprint: Fingerprint,
}

pub(crate) struct FilterSlot {
    pub instance: FilterInstance,
    /// The inputs through which this filter re-emits records (rewrite_tag's emitter).
    pub emitters: Vec<EmitterRequest>,
    pub fingerprint: Fingerprint,
}

pub(crate) struct OutputSlot {
    pub runtime: OutputRuntime,
    pub matcher: TagMatcher,
    pub fingerprint: Fingerprint,
}

/// What the build needs besides the configuration.
pub struct BuildOptions {
    /// Relative paths in the configuration resolve against this directory.
    pub config_dir: PathBuf,
    /// Text of a classic parsers file whose parsers are available unless the configuration
    /// defines parsers of the same names (Weir ships its common parsers this way).
    pub bundled_parsers: Option<&'static str>,
    /// The process's metrics, when building for a hot reload: plugins see them through their
    /// build context. `None` for the first build, which makes them. Instances' counters are
    /// registered when they run (the engine starts, or the reload is applied).
    pub metrics: Option<Arc<Metrics>>,
    /// Only check (`--dry-run`): see [`BuildContext::check_only`].
    pub check_only: bool,
}

impl Pipeline {
    /// Instance names, in order, for `--dry-run` summaries: (kind, plugin, instance).
    pub fn instances(&self) -> Vec<(PluginKind, &str, &str)> {
        let mut v: Vec<(PluginKind, &str, &str)> = self
            .inputs
            .iter()
            .map(|i| (PluginKind::Input, i.plugin, &*i.name))
            .collect();
        v.extend(
            self.filters
                .iter()
                .map(|f| (PluginKind::Filter, "", &*f.instance.name)),
        );
        v.extend(
            self.outputs
                .iter()
                .map(|o| (PluginKind::Output, "", &*o.runtime.ctx.name)),
        );
        v
    }
}

/// Builds the pipeline described by `config`.
pub fn build(
    config: &Config,
    registry: &Registry,
    opts: &BuildOptions,
) -> Result<Pipeline, ConfigError> {
    let service = Arc::new(ServiceConfig::from_section(&config.service)?);
    let mut watch_files = config.files.clone();
    let (parsers, parsers_fingerprint) = build_parsers(config, &service, opts, &mut watch_files)?;
    let parsers = Arc::new(parsers);
    let metrics = opts.metrics.clone().unwrap_or_default();
    let mut b = Builder {
        registry,
        service: service.clone(),
        parsers: parsers.clone(),
        config_dir: opts.config_dir.clone(),
        metrics: metrics.clone(),
        check_only: opts.check_only,
        names: InstanceNames::default(),
    };

    let mut inputs = Vec::new();
    for section in &config.inputs {
        let Declared {
            d,
            params,
            name,
            ctx,
        } = b.declare(PluginKind::Input, section, INPUT_COMMON_PARAMS)?;
        let Factory::Input(make) = &d.factory else {
            unreachable!("descriptor kind checked by resolve")
        };
        let input = make(&params, &ctx)?;
        let filesystem = storage_is_filesystem(&params, &service)?;
        let tag: Arc<str> = params
            .str("tag")
            .filter(|t| !t.is_empty())
            .map_or_else(|| name.clone(), Arc::from);
        inputs.push(InputSlot {
            metrics: Arc::new(InputMetrics::default()),
            fingerprint: fingerprint(
                PluginKind::Input,
                &name,
                section,
                &opts.config_dir,
                parsers_fingerprint,
                &mut watch_files,
            ),
            name,
            plugin: d.name,
            tag,
            input,
            mem_buf_limit: params.size("mem_buf_limit").filter(|l| *l > 0),
            filesystem,
        });
    }

    let mut filters = Vec::new();
    for section in &config.filters {
        let Declared {
            d,
            params,
            name,
            ctx,
        } = b.declare(PluginKind::Filter, section, FILTER_COMMON_PARAMS)?;
        let Factory::Filter(make) = &d.factory else {
            unreachable!("descriptor kind checked by resolve")
        };
        let filter = make(&params, &ctx)?;
        let matcher = matcher(&params, &name)?;
        let emitters = ctx.emitters.into_inner().unwrap_or_else(|e| e.into_inner());
        for e in &emitters {
            b.names.reserve(&e.name, &config.service)?;
        }
        filters.push(FilterSlot {
            fingerprint: fingerprint(
                PluginKind::Filter,
                &name,
                section,
                &opts.config_dir,
                parsers_fingerprint,
                &mut watch_files,
            ),
            instance: FilterInstance {
                metrics: Arc::new(FilterMetrics::default()),
                name,
                matcher,
                filter,
            },
            emitters,
        });
    }

    let mut outputs = Vec::new();
    for section in &config.outputs {
        let Declared {
            d,
            params,
            name,
            ctx,
        } = b.declare(PluginKind::Output, section, OUTPUT_COMMON_PARAMS)?;
        let Factory::Output(make) = &d.factory else {
            unreachable!("descriptor kind checked by resolve")
        };
        let output = make(&params, &ctx)?;
        let matcher = matcher(&params, &name)?;
        let limit_text = params.str("retry_limit").unwrap_or("1");
        let retry_limit = RetryLimit::parse(limit_text).ok_or_else(|| {
            params.error(
                "retry_limit",
                format!("expected a number, no_limits, false or no_retries; got '{limit_text}'"),
            )
        })?;
        let workers = match params.int("workers") {
            None => 1,
            Some(n) if (0..=256).contains(&n) => (n as usize).max(1),
            Some(n) => {
                return Err(params.error("workers", format!("expected between 0 and 256, got {n}")))
            }
        };
        let disk_limit = disk_limit(&params)?;
        let runtime = OutputRuntime {
            output,
            ctx: OutputContext {
                component: format!("output:{}:{}", d.name, name),
                name: name.clone(),
            },
            metrics: Arc::new(OutputMetrics::default()),
            retry_limit,
            workers,
            backoff: service.backoff,
            disk_limit,
        };
        let fingerprint = fingerprint(
            PluginKind::Output,
            &runtime.ctx.name,
            section,
            &opts.config_dir,
            0,
            &mut watch_files,
        );
        outputs.push(OutputSlot {
            runtime,
            matcher,
            fingerprint,
        });
    }

    watch_files.sort();
    watch_files.dedup();
    Ok(Pipeline {
        service,
        metrics,
        parsers,
        inputs,
        filters,
        outputs,
        watch_files,
    })
}

/// Keys whose value names a file a plugin loads at build time: a change of that file's
/// contents changes the component (and `hot_reload.watch` watches it). Paths a plugin reads
/// while running (tail's `path`, the file output's) are data, not configuration.
const LOADED_FILE_KEYS: &[&str] = &[
    "script",
    "wasm_path",
    "wasi_path",
    "component",
    "module",
    "parsers_file",
];

/// See [`Fingerprint`]. Properties are compared sorted by key (a stable sort, so repeated keys
/// such as modify's rules keep their order), keys case-insensitively.
fn fingerprint(
    kind: PluginKind,
    name: &str,
    section: &Section,
    config_dir: &Path,
    extra: u64,
    watch_files: &mut Vec<PathBuf>,
) -> Fingerprint {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    kind.as_str().hash(&mut h);
    name.hash(&mut h);
    let mut props: Vec<(String, &str)> = section
        .properties
        .iter()
        .map(|p| (p.key.to_ascii_lowercase(), p.value.as_str()))
        .collect();
    props.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in &props {
        k.hash(&mut h);
        v.hash(&mut h);
        if LOADED_FILE_KEYS.contains(&k.as_str()) {
            // Plugins resolve these against the working directory or the configuration's;
            // whichever exists is the one loaded.
            let candidates = [PathBuf::from(v), resolve_path(config_dir, v)];
            if let Some(p) = candidates.iter().find(|p| p.is_file()) {
                std::fs::read(p).unwrap_or_default().hash(&mut h);
                watch_files.push(p.clone());
            }
        }
    }
    extra.hash(&mut h);
    h.finish()
}

/// What building needs while it walks the sections.
struct Builder<'a> {
    registry: &'a Registry,
    service: Arc<ServiceConfig>,
    parsers: Arc<ParserRegistry>,
    config_dir: PathBuf,
    metrics: Arc<Metrics>,
    check_only: bool,
    names: InstanceNames,
}

/// A section resolved to its plugin, validated, named, with its build context ready.
struct Declared {
    d: &'static PluginDescriptor,
    params: Params,
    name: Arc<str>,
    ctx: BuildContext,
}

impl Builder<'_> {
    /// The steps every plugin section goes through, whatever its kind.
    fn declare(
        &mut self,
        kind: PluginKind,
        section: &Section,
        common: &'static [weir_config::ParamSpec],
    ) -> Result<Declared, ConfigError> {
        let (d, params) = resolve(self.registry, kind, section, common)?;
        let name = self.names.assign(d.name, &params)?;
        apply_log_level(&params, &format!("{}:{}:{}", kind.as_str(), d.name, name))?;
        let mut ctx = BuildContext::new(
            name.clone(),
            self.service.clone(),
            self.parsers.clone(),
            self.config_dir.clone(),
        );
        ctx.metrics = self.metrics.clone();
        ctx.check_only = self.check_only;
        Ok(Declared {
            d,
            params,
            name,
            ctx,
        })
    }
}

/// Finds the plugin a section names and validates its parameters against its table plus the
/// keys common to its kind.
fn resolve(
    registry: &Registry,
    kind: PluginKind,
    section: &Section,
    common: &'static [weir_config::ParamSpec],
) -> Result<(&'static PluginDescriptor, Params), ConfigError> {
    let Some(prop) = section.get("name") else {
        return Err(ConfigError::at(
            &section.location,
            format!("{} section without a 'name'", kind.as_str()),
        )
        .with_key("name"));
    };
    let Some(d) = registry.find(kind, &prop.value) else {
        let known = registry.names(kind);
        return Err(ConfigError::at(
            &prop.location,
            format!(
                "unknown {} plugin '{}'; known: {}",
                kind.as_str(),
                prop.value,
                known.join(", ")
            ),
        )
        .with_key("name")
        .with_suggestion(weir_config::suggest(&prop.value, known.iter().copied())));
    };
    let what = format!("{} '{}'", kind.as_str(), d.name);
    let params = weir_config::validate(section, &[d.params, common], &what)?;
    Ok((d, params))
}

/// Reads an input's `storage.type`: filesystem needs `storage.path` in the service section
/// (Fluent Bit would quietly keep the data in memory; a user who asked for durability is told).
fn storage_is_filesystem(params: &Params, service: &ServiceConfig) -> Result<bool, ConfigError> {
    let t = params.str("storage.type").unwrap_or("memory");
    match t.to_ascii_lowercase().as_str() {
        "memory" => Ok(false),
        "filesystem" if service.storage.path.is_some() => Ok(true),
        "filesystem" => Err(params.error(
            "storage.type",
            "storage.type filesystem needs storage.path in the service section",
        )),
        _ => Err(params.error(
            "storage.type",
            format!("expected memory or filesystem, got '{t}'"),
        )),
    }
}

/// `storage.total_limit_size` and Weir's `storage.when_full` of an output.
fn disk_limit(params: &Params) -> Result<Option<DiskLimit>, ConfigError> {
    let when = params.str("storage.when_full").unwrap_or("drop_oldest");
    let when_full = match when.to_ascii_lowercase().as_str() {
        "drop_oldest" => WhenFull::DropOldest,
        "block" => WhenFull::Block,
        _ => {
            return Err(params.error(
                "storage.when_full",
                format!("expected drop_oldest or block, got '{when}'"),
            ))
        }
    };
    Ok(params
        .size("storage.total_limit_size")
        .filter(|b| *b > 0)
        .map(|bytes| DiskLimit { bytes, when_full }))
}

/// An instance's own `log_level` applies to the log lines of its component.
fn apply_log_level(params: &Params, component: &str) -> Result<(), ConfigError> {
    let Some(text) = params.str("log_level") else {
        return Ok(());
    };
    let level = crate::log::Level::parse(text).ok_or_else(|| {
        params.error(
            "log_level",
            format!("expected one of off, error, warn, info, debug, trace; got '{text}'"),
        )
    })?;
    crate::log::set_component_level(component, level);
    Ok(())
}

fn matcher(params: &Params, name: &str) -> Result<TagMatcher, ConfigError> {
    if let Some(re) = params.str("match_regex").filter(|s| !s.is_empty()) {
        let r = regex::Regex::new(re)
            .map_err(|e| params.error("match_regex", format!("invalid regular expression: {e}")))?;
        return Ok(TagMatcher::Regex(r));
    }
    match params.str("match").filter(|s| !s.is_empty()) {
        Some(m) => Ok(TagMatcher::Wildcard(m.to_string())),
        None => {
            crate::warn!("router", "NO match rule for {} instance, unused", name);
            Ok(TagMatcher::Nothing)
        }
    }
}

/// Hands out Fluent Bit's instance names (`tail.0`, `tail.1`) and checks aliases are unique.
#[derive(Default)]
struct InstanceNames {
    per_plugin: HashMap<&'static str, usize>,
    used: HashSet<Arc<str>>,
}

impl InstanceNames {
    fn assign(&mut self, plugin: &'static str, params: &Params) -> Result<Arc<str>, ConfigError> {
        let n = self.per_plugin.entry(plugin).or_insert(0);
        let default = format!("{plugin}.{n}");
        *n += 1;
        let name: Arc<str> = match params.str("alias").filter(|a| !a.is_empty()) {
            Some(a) => {
                if self.used.contains(a) {
                    return Err(params.error(
                        "alias",
                        format!("alias '{a}' is already used by another instance"),
                    ));
                }
                a.into()
            }
            None => default.into(),
        };
        self.used.insert(name.clone());
        Ok(name)
    }

    fn reserve(&mut self, name: &str, service: &Section) -> Result<(), ConfigError> {
        if !self.used.insert(name.into()) {
            return Err(ConfigError::at(
                &service.location,
                format!("emitter name '{name}' is already used by another instance"),
            ));
        }
        Ok(())
    }
}

/// The parser registry, and a fingerprint of every parser definition (the files' contents and
/// the configuration's parser sections): when it changes, a reload restarts the inputs and
/// filters, which may use any parser.
fn build_parsers(
    config: &Config,
    service: &ServiceConfig,
    opts: &BuildOptions,
    watch_files: &mut Vec<PathBuf>,
) -> Result<(ParserRegistry, u64), ConfigError> {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    let mut user_parsers: Vec<Section> = Vec::new();
    let mut user_multiline: Vec<Section> = Vec::new();
    // Parsers files see the configuration's own variables (@SET, env:) before the environment.
    let env = |name: &str| {
        config
            .variables
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    };
    for file in &service.parsers_files {
        let path = resolve_path(&opts.config_dir, file);
        std::fs::read(&path).unwrap_or_default().hash(&mut h);
        watch_files.push(path.clone());
        let (p, m) = weir_config::load_parsers_file(&path, &env)?;
        user_parsers.extend(p);
        user_multiline.extend(m);
    }
    user_parsers.extend(config.parsers.iter().cloned());
    user_multiline.extend(config.multiline_parsers.iter().cloned());
    for s in config.parsers.iter().chain(&config.multiline_parsers) {
        for p in &s.properties {
            (&p.key, &p.value).hash(&mut h);
        }
        for r in &s.rules {
            format!("{r:?}").hash(&mut h);
        }
    }

    let mut registry = ParserRegistry::new();
    if let Some(text) = opts.bundled_parsers {
        let bundled = weir_config::parse_str(
            text,
            Path::new("<bundled parsers.conf>"),
            weir_config::Format::Classic,
            &|_| None,
        )?;
        let defined: HashSet<String> = user_parsers
            .iter()
            .filter_map(|s| s.name())
            .map(|n| n.to_ascii_lowercase())
            .collect();
        let keep: Vec<Section> = bundled
            .parsers
            .into_iter()
            .filter(|s| {
                s.name()
                    .is_some_and(|n| !defined.contains(&n.to_ascii_lowercase()))
            })
            .collect();
        // Built only when a plugin names one: most configurations use one or two of them.
        registry.add_deferred_sections(keep);
    }
    for w in registry.add_sections(&user_parsers, &user_multiline)? {
        crate::warn!("parser", "{}", w);
    }
    Ok((registry, h.finish()))
}

fn resolve_path(dir: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        dir.join(p)
    }
}
