//! Dataset-name patterns: `*` is any run of characters (also none), `?` any one character; every
//! other character, `.` and `[` included, stands for itself. DCLM's dataset names are full of
//! dots (`f0.15`, `.json`) and brackets never occur, so shell classes would only invite mistakes.

/// Whether `name` matches `pattern` as a whole.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = name.chars().collect();
    let (mut pi, mut si) = (0usize, 0usize);
    // Where the last `*` was and which name position it is tried to swallow up to.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == s[si])) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            // Let the last `*` take one more character and retry from there.
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `name` matches any of `patterns`.
pub fn matches_any<S: AsRef<str>>(patterns: &[S], name: &str) -> bool {
    patterns.iter().any(|p| matches(p.as_ref(), name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert!(matches("fineweb_edu*", "fineweb_edu_sample_350BT"));
        assert!(!matches("fineweb_edu*", "xfineweb_edu"));
        assert!(matches(
            "*OH_eli5*",
            "cc_v4_resiliparse_rw_v2_bff_OH_eli5_vs_rw"
        ));
        assert!(matches(
            "rw_v2_cc_v3_f0.15_resilipar*se_x",
            "rw_v2_cc_v3_f0.15_resiliparase_x"
        ));
        assert!(matches(
            "rw_v2_cc_v3_f0.15_resilipar*se_x",
            "rw_v2_cc_v3_f0.15_resiliparse_x"
        ));
        // `.` is literal.
        assert!(!matches("f0.15", "f0x15"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("*", ""));
        assert!(!matches("", "a"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
    }

    proptest! {
        #[test]
        fn a_literal_matches_only_itself(a in "[a-z0-9_.]{0,12}", b in "[a-z0-9_.]{0,12}") {
            prop_assert_eq!(matches(&a, &b), a == b);
        }

        #[test]
        fn star_around_a_part_finds_it(pre in "[a-z_]{0,6}", mid in "[a-z_.]{0,6}", post in "[a-z_]{0,6}") {
            let name = format!("{pre}{mid}{post}");
            let star_mid = format!("*{mid}*");
            let pre_star = format!("{pre}*");
            let star_post = format!("*{post}");
            prop_assert!(matches(&star_mid, &name));
            prop_assert!(matches(&pre_star, &name));
            prop_assert!(matches(&star_post, &name));
        }

        #[test]
        fn question_marks_match_exactly_that_many(s in "[a-z]{0,8}", n in 0usize..10) {
            prop_assert_eq!(matches(&"?".repeat(n), &s), s.chars().count() == n);
        }
    }
}
