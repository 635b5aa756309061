//! DCLM's competition scales and the scale of a run derived from its `params` and `tokens`.
//!
//! DCLM names a scale `<size>-<k>x`: a model size trained on `k` times the Chinchilla-optimal
//! token budget, 20 tokens per parameter (DCLM paper §3.1; `training/params.py` sets
//! `tokens = 20 * params * chinchilla_multiplier`). The scales themselves are not re-typed here:
//! they are the `[params.scales.*]` of the `dclm-baseline` recipe that have a `dclm` name and a
//! token budget (`7b-2x`: DCLM's `7B-2x`, 275,576,422,400 tokens), whose figures `lmrepro-dclm`
//! already checks against DCLM's pinned files. A size's parameter count follows as
//! `tokens / (20·k)`.

use anyhow::{bail, Context, Result};
use lmrepro_data::Recipe;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Chinchilla's tokens per parameter: DCLM's `1x`.
pub const TOKENS_PER_PARAM_1X: u64 = 20;

/// The recipe whose `[params.scales]` define the competition scales.
pub const SCALES_RECIPE: &str = "dclm-baseline";

/// One competition scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleDef {
    /// The recipe's key and the CLI's name: `7b-2x`.
    pub id: String,
    /// DCLM's name: `7B-2x`.
    pub name: String,
    /// DCLM's size name: `7B`.
    pub size: String,
    /// Chinchilla multiplier `k`.
    pub multiplier: u64,
    pub params: u64,
    pub tokens: u64,
}

/// The competition scales, in increasing (params, tokens).
#[derive(Debug, Clone)]
pub struct Scales {
    pub defs: Vec<ScaleDef>,
}

/// What a run's `params` and `tokens` say about its scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// DCLM's size whose parameter count equals the run's (`7B`), if any.
    pub size: Option<String>,
    /// tokens / (20 · params).
    pub multiplier: f64,
    /// `7b-2x`; a multiplier that is not a whole number is written with up to two decimals
    /// (`7b-1.25x`, `7b-2.18x` for 300B tokens). `None` when no size has these parameters.
    pub scale: Option<String>,
}

#[derive(Deserialize)]
struct RecipeParams {
    scales: BTreeMap<String, RecipeScale>,
}

#[derive(Deserialize)]
struct RecipeScale {
    #[serde(default)]
    tokens: Option<u64>,
    #[serde(default)]
    dclm: Option<RecipeDclm>,
}

#[derive(Deserialize)]
struct RecipeDclm {
    name: String,
}

impl Scales {
    /// The scales of the `dclm-baseline` recipe in this checkout.
    pub fn load() -> Result<Scales> {
        Scales::from_recipe(&Recipe::load_named(SCALES_RECIPE)?)
    }

    /// The scales of a recipe of kind `dclm-baseline`: those with a DCLM name and a token budget.
    pub fn from_recipe(recipe: &Recipe) -> Result<Scales> {
        let p: RecipeParams = recipe.params()?;
        let mut defs = Vec::new();
        for (id, s) in p.scales {
            let (Some(tokens), Some(dclm)) = (s.tokens, s.dclm) else {
                continue;
            };
            defs.push(
                ScaleDef::new(&id, &dclm.name, tokens)
                    .with_context(|| format!("recipe `{}`, [params.scales.{id}]", recipe.name))?,
            );
        }
        Scales::new(defs)
    }

    pub fn new(mut defs: Vec<ScaleDef>) -> Result<Scales> {
        if defs.is_empty() {
            bail!("no DCLM scale defined");
        }
        defs.sort_by_key(|d| (d.params, d.tokens));
        for a in &defs {
            for b in &defs {
                if a.size == b.size && a.params != b.params {
                    bail!(
                        "scales `{}` and `{}` give size {} two parameter counts ({} and {})",
                        a.id,
                        b.id,
                        a.size,
                        a.params,
                        b.params
                    );
                }
            }
        }
        Ok(Scales { defs })
    }

    pub fn get(&self, id: &str) -> Result<&ScaleDef> {
        self.defs.iter().find(|d| d.id == id).with_context(|| {
            let known: Vec<_> = self.defs.iter().map(|d| d.id.as_str()).collect();
            format!("unknown scale `{id}` (known: {})", known.join(", "))
        })
    }

    /// The scale of a run with `params` parameters trained on `tokens` tokens.
    pub fn derive(&self, params: u64, tokens: u64) -> Derived {
        let one_x = params.saturating_mul(TOKENS_PER_PARAM_1X);
        let multiplier = if one_x == 0 {
            f64::NAN
        } else {
            tokens as f64 / one_x as f64
        };
        let size = self
            .defs
            .iter()
            .find(|d| d.params == params)
            .map(|d| d.size.clone());
        let scale = size.as_ref().map(|s| {
            let k = if one_x > 0 && tokens.is_multiple_of(one_x) {
                (tokens / one_x).to_string()
            } else {
                trim_decimals(&format!("{multiplier:.2}"))
            };
            format!("{}-{k}x", s.to_lowercase())
        });
        Derived {
            size,
            multiplier,
            scale,
        }
    }
}

impl ScaleDef {
    /// From the recipe's key, DCLM's name (`7B-2x`) and the token budget.
    pub fn new(id: &str, name: &str, tokens: u64) -> Result<ScaleDef> {
        let Some((size, mult)) = name.split_once('-') else {
            bail!("DCLM scale name `{name}` is not `<size>-<k>x`");
        };
        let multiplier: u64 = mult
            .strip_suffix('x')
            .and_then(|k| k.parse().ok())
            .filter(|&k| k > 0)
            .with_context(|| format!("DCLM scale name `{name}`: `{mult}` is not `<k>x`"))?;
        let one_x = TOKENS_PER_PARAM_1X * multiplier;
        if !tokens.is_multiple_of(one_x) {
            bail!("{name}: {tokens} tokens are not {one_x} tokens per parameter of a whole model");
        }
        if id != name.to_lowercase() {
            bail!("scale key `{id}` is not DCLM's name `{name}` in lower case");
        }
        Ok(ScaleDef {
            id: id.to_string(),
            name: name.to_string(),
            size: size.to_string(),
            multiplier,
            params: tokens / one_x,
            tokens,
        })
    }
}

fn trim_decimals(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scales() -> Scales {
        Scales::new(vec![
            ScaleDef::new("7b-2x", "7B-2x", 275576422400).unwrap(),
            ScaleDef::new("400m-1x", "400M-1x", 8232325120).unwrap(),
            ScaleDef::new("7b-1x", "7B-1x", 137788211200).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn sizes_follow_from_the_token_budget() {
        let s = scales();
        assert_eq!(s.defs[0].id, "400m-1x");
        assert_eq!(s.defs[0].params, 411616256);
        assert_eq!(s.get("7b-2x").unwrap().params, 6889410560);
        assert!(s
            .get("3b-1x")
            .unwrap_err()
            .to_string()
            .contains("400m-1x, 7b-1x, 7b-2x"));
    }

    #[test]
    fn derives_whole_and_fractional_multipliers() {
        let s = scales();
        let d = s.derive(6889410560, 137788211200);
        assert_eq!(d.scale.as_deref(), Some("7b-1x"));
        assert_eq!(d.size.as_deref(), Some("7B"));
        assert_eq!(
            s.derive(6889410560, 172235264000).scale.as_deref(),
            Some("7b-1.25x")
        );
        assert_eq!(
            s.derive(6889410560, 300000000000).scale.as_deref(),
            Some("7b-2.18x")
        );
        assert_eq!(
            s.derive(6889410560, 206682316800).scale.as_deref(),
            Some("7b-1.5x")
        );
        let other = s.derive(1439795200, 28795904000);
        assert_eq!(other.scale, None);
        assert_eq!(other.multiplier, 1.0);
    }

    #[test]
    fn bad_names_and_budgets_are_errors() {
        assert!(ScaleDef::new("7b", "7B", 1).is_err());
        assert!(ScaleDef::new("7b-2x", "7B-2x", 275576422401).is_err());
        assert!(ScaleDef::new("big", "7B-2x", 275576422400).is_err());
        let err = Scales::new(vec![
            ScaleDef::new("7b-1x", "7B-1x", 137788211200).unwrap(),
            ScaleDef::new("7b-2x", "7B-2x", 275576422440).unwrap(),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("two parameter counts"), "{err}");
    }
}
