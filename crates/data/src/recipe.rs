use crate::input::{DataError, Input, Resolver};
use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A recipe: `recipes/<name>.toml`.
///
/// ```toml
/// name = "scaling-overtraining"
/// kind = "scaling-overtraining"     # which reproducer runs it
/// title = "..."
/// description = "..."
/// input_sets = ["scaling"]          # recipes/inputs/<set>.toml, each a list of [[inputs]]
/// [params]                          # free-form, read by the reproducer
/// [[inputs]]                        # inputs listed inline
/// ```
#[derive(Debug, Clone)]
pub struct Recipe {
    pub name: String,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub params: toml::Table,
    pub inputs: Vec<Input>,
    /// The recipe file.
    pub path: PathBuf,
    /// sha256 over the recipe file and its input-set files, in order (for provenance).
    pub sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeFile {
    name: String,
    kind: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    input_sets: Vec<String>,
    #[serde(default)]
    params: toml::Table,
    #[serde(default)]
    inputs: Vec<Input>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSetFile {
    #[serde(default)]
    inputs: Vec<Input>,
}

impl Recipe {
    /// Loads `recipes/<name>.toml` from the workspace root.
    pub fn load_named(name: &str) -> Result<Recipe> {
        let path = workspace_root()
            .join("recipes")
            .join(format!("{name}.toml"));
        if !path.is_file() {
            let known = Recipe::list()?.join(", ");
            bail!(
                "no recipe `{name}` (looked for {}); known recipes: {known}",
                path.display()
            );
        }
        Recipe::load(&path)
    }

    /// An error unless the recipe is of `kind` (one track's entry point handed another's recipe).
    pub fn expect_kind(&self, kind: &str) -> Result<()> {
        if self.kind != kind {
            bail!(
                "recipe `{}` has kind `{}`, not `{kind}`",
                self.name,
                self.kind
            );
        }
        Ok(())
    }

    /// Names of all recipes in `recipes/`, sorted.
    pub fn list() -> Result<Vec<String>> {
        Recipe::list_in(&workspace_root().join("recipes"))
    }

    /// Names (file stems) of the recipes in `dir` (not its subfolders), sorted.
    pub fn list_in(dir: &Path) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                if let Some(stem) = path.file_stem() {
                    names.push(stem.to_string_lossy().into_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    pub fn load(path: &Path) -> Result<Recipe> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading recipe {}", path.display()))?;
        let file: RecipeFile =
            toml::from_str(&text).with_context(|| format!("parsing recipe {}", path.display()))?;
        let mut hasher = Sha256::new();
        hasher.update(text.as_bytes());
        let mut inputs = Vec::new();
        let dir = path.parent().unwrap_or(Path::new("."));
        for set in &file.input_sets {
            let (set_text, set_inputs) = read_input_set(&dir.join("inputs"), set)
                .with_context(|| format!("input set `{set}` of recipe {}", path.display()))?;
            hasher.update(set_text.as_bytes());
            inputs.extend(set_inputs);
        }
        inputs.extend(file.inputs);
        // Input sets may share a file (the tokenizer): the same pin twice is one input, two
        // different pins under one name are an error.
        let mut first: std::collections::BTreeMap<String, Input> = Default::default();
        let mut unique = Vec::with_capacity(inputs.len());
        for input in inputs {
            match first.get(&input.name) {
                Some(prev)
                    if (
                        &prev.url,
                        &prev.sha256,
                        &prev.git_blob_sha1,
                        prev.size,
                        &prev.path,
                    ) == (
                        &input.url,
                        &input.sha256,
                        &input.git_blob_sha1,
                        input.size,
                        &input.path,
                    ) =>
                {
                    continue
                }
                Some(_) => bail!(
                    "recipe {}: input `{}` is listed twice with different pins",
                    path.display(),
                    input.name
                ),
                None => {
                    first.insert(input.name.clone(), input.clone());
                    unique.push(input);
                }
            }
        }
        let inputs = unique;
        for input in &inputs {
            let hex_of =
                |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
            let pinned = if input.sha256.is_empty() {
                input
                    .git_blob_sha1
                    .as_deref()
                    .is_some_and(|b| hex_of(b, 40))
            } else {
                hex_of(&input.sha256, 64)
            };
            if !pinned || input.sha256.bytes().all(|b| b == b'0') && !input.sha256.is_empty() {
                bail!(
                    "recipe {}: input `{}` is not pinned: it needs a 64-hex sha256 (or, lacking one, \
                     a 40-hex git_blob_sha1); got sha256 `{}`",
                    path.display(),
                    input.name,
                    input.sha256
                );
            }
        }
        Ok(Recipe {
            name: file.name,
            kind: file.kind,
            title: file.title,
            description: file.description,
            params: file.params,
            inputs,
            path: path.to_path_buf(),
            sha256: hex::encode(hasher.finalize()),
        })
    }

    pub fn input(&self, name: &str) -> Result<&Input> {
        self.inputs
            .iter()
            .find(|i| i.name == name)
            .with_context(|| format!("recipe `{}` has no input named `{name}`", self.name))
    }

    /// Inputs whose name starts with `prefix`, in recipe order.
    pub fn inputs_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Input> + 'a {
        self.inputs
            .iter()
            .filter(move |i| i.name.starts_with(prefix))
    }

    /// Resolves one input by name to a verified local path.
    pub fn resolve(&self, resolver: &Resolver, name: &str) -> Result<PathBuf> {
        let input = self.input(name)?;
        resolver
            .path(input)
            .map_err(|e: DataError| anyhow::Error::new(e))
    }

    /// Deserialises `[params]` into a typed struct.
    pub fn params<T: DeserializeOwned>(&self) -> Result<T> {
        toml::Value::Table(self.params.clone())
            .try_into()
            .with_context(|| format!("recipe `{}`: invalid [params]", self.name))
    }
}

/// The lmrepro checkout: `LMREPRO_ROOT` if set, else the nearest ancestor of the current directory
/// holding `recipes/` and a workspace `Cargo.toml`, else the checkout this binary was built from.
pub fn workspace_root() -> PathBuf {
    if let Some(root) = std::env::var_os("LMREPRO_ROOT") {
        return PathBuf::from(root);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if dir.join("recipes").is_dir() && is_workspace_manifest(&dir.join("Cargo.toml")) {
                return dir.to_path_buf();
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn is_workspace_manifest(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains("[workspace]"))
}

/// Reads `<dir>/<set>.toml` (a list of `[[inputs]]`): its text (recipes hash it) and inputs.
fn read_input_set(dir: &Path, set: &str) -> Result<(String, Vec<Input>)> {
    let path = dir.join(format!("{set}.toml"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let inputs = parse_input_set(&text).with_context(|| format!("input set {}", path.display()))?;
    Ok((text, inputs))
}

/// Parses the text of an input set (a list of `[[inputs]]`), e.g. one embedded with
/// `include_str!` so that a binary carries its pins.
pub fn parse_input_set(text: &str) -> Result<Vec<Input>> {
    let parsed: InputSetFile = toml::from_str(text).context("parsing an input set")?;
    Ok(parsed.inputs)
}

/// The inputs of the shared input set `recipes/inputs/<set>.toml` (for crates whose tests and
/// tools read pinned inputs outside a recipe).
pub fn input_set(set: &str) -> Result<Vec<Input>> {
    Ok(read_input_set(&workspace_root().join("recipes").join("inputs"), set)?.1)
}

/// Resolves input `name` of the input set `set` to a verified path.
pub fn resolve_in_set(resolver: &Resolver, set: &str, name: &str) -> Result<PathBuf> {
    let inputs = input_set(set)?;
    let input = inputs
        .iter()
        .find(|i| i.name == name)
        .with_context(|| format!("recipes/inputs/{set}.toml has no input `{name}`"))?;
    Ok(resolver.path(input)?)
}
