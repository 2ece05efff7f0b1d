//! Table-driven tests of scope parsing, decisions, granular filters and coverage.

use super::*;
use std::str::FromStr;

fn filters(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// `expected`: `Ok((context, type or "*", letters, filters, canonical v2 form))` or
/// `Err(fragment of the reason)`.
type Expected<'a> = Result<
    (
        ContextKind,
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a str,
    ),
    &'a str,
>;

fn check_parse(input: &str, expected: Expected<'_>) {
    let parsed = Scope::from_str(input);
    match (parsed, expected) {
        (Ok(Scope::Resource(r)), Ok((context, ty, letters, f, v2))) => {
            assert_eq!(r.context, context, "{input}");
            assert_eq!(r.resource.to_string(), ty, "{input}");
            assert_eq!(r.permissions.to_string(), letters, "{input}");
            assert_eq!(r.filters, filters(f), "{input}");
            assert_eq!(r.to_v2_string(), v2, "{input}");
            assert_eq!(
                r.to_string(),
                input,
                "{input}: Display echoes what was written"
            );
        }
        (Err(e), Err(fragment)) => {
            assert!(
                e.to_string().contains(fragment),
                "{input}: '{e}' lacks '{fragment}'"
            );
            assert!(
                e.to_string().contains(input),
                "{input}: error names the scope"
            );
        }
        (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn parse_v1_and_v2_scopes() {
    use ContextKind::*;
    let cases: &[(&str, Expected<'_>)] = &[
        // v1, each context and permission word, mapped to v2 letters
        (
            "patient/Observation.read",
            Ok((Patient, "Observation", "rs", &[], "patient/Observation.rs")),
        ),
        (
            "user/Patient.write",
            Ok((User, "Patient", "cud", &[], "user/Patient.cud")),
        ),
        (
            "system/*.*",
            Ok((System, "*", "cruds", &[], "system/*.cruds")),
        ),
        (
            "patient/*.read",
            Ok((Patient, "*", "rs", &[], "patient/*.rs")),
        ),
        (
            "system/Encounter.*",
            Ok((System, "Encounter", "cruds", &[], "system/Encounter.cruds")),
        ),
        // v2, every single letter
        (
            "system/Patient.c",
            Ok((System, "Patient", "c", &[], "system/Patient.c")),
        ),
        (
            "system/Patient.r",
            Ok((System, "Patient", "r", &[], "system/Patient.r")),
        ),
        (
            "system/Patient.u",
            Ok((System, "Patient", "u", &[], "system/Patient.u")),
        ),
        (
            "system/Patient.d",
            Ok((System, "Patient", "d", &[], "system/Patient.d")),
        ),
        (
            "system/Patient.s",
            Ok((System, "Patient", "s", &[], "system/Patient.s")),
        ),
        // v2 combinations, wildcards
        (
            "user/*.cruds",
            Ok((User, "*", "cruds", &[], "user/*.cruds")),
        ),
        (
            "patient/Observation.rs",
            Ok((Patient, "Observation", "rs", &[], "patient/Observation.rs")),
        ),
        (
            "user/Condition.cud",
            Ok((User, "Condition", "cud", &[], "user/Condition.cud")),
        ),
        ("system/*.rs", Ok((System, "*", "rs", &[], "system/*.rs"))),
        // granular
        (
            "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
            Ok((
                Patient,
                "Observation",
                "rs",
                &[(
                    "category",
                    "http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
                )],
                "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
            )),
        ),
        (
            "user/Observation.rs?category=vital-signs&status=final",
            Ok((
                User,
                "Observation",
                "rs",
                &[("category", "vital-signs"), ("status", "final")],
                "user/Observation.rs?category=vital-signs&status=final",
            )),
        ),
        (
            "system/Condition.s?code=http%3A%2F%2Fsnomed.info%2Fsct%7C123",
            Ok((
                System,
                "Condition",
                "s",
                &[("code", "http://snomed.info/sct|123")],
                "system/Condition.s?code=http%3A%2F%2Fsnomed.info%2Fsct%7C123",
            )),
        ),
        // errors
        (
            "patient/Observation",
            Err("expected '<Type or *>.<permissions>'"),
        ),
        ("patient/Observation.", Err("no permissions")),
        ("patient/Observation.sr", Err("in the order 'cruds'")),
        ("patient/Observation.rr", Err("in the order 'cruds'")),
        ("patient/Observation.x", Err("'x' is not a permission")),
        ("patient/Observation.Read", Err("'R' is not a permission")),
        (
            "patient/Observation.read?category=x",
            Err("need v2 permissions"),
        ),
        ("patient/Observation.rs?", Err("empty filter")),
        ("patient/Observation.rs?category", Err("not 'param=value'")),
        ("patient/Observation.rs?=x", Err("no parameter name")),
        ("patient/Observation.rs?category=", Err("no value")),
        (
            "patient/observation.rs",
            Err("neither '*' nor a resource type"),
        ),
        ("patient/.rs", Err("neither '*' nor a resource type")),
        (
            "system/Obs-ervation.rs",
            Err("neither '*' nor a resource type"),
        ),
    ];
    for (input, expected) in cases {
        check_parse(input, *expected);
    }
}

#[test]
fn other_scopes_are_kept_as_words() {
    for word in [
        "openid",
        "fhirUser",
        "launch",
        "launch/patient",
        "launch/encounter",
        "offline_access",
        "aws.cognito.signin.user.admin",
    ] {
        assert_eq!(
            Scope::from_str(word),
            Ok(Scope::Other(word.to_owned())),
            "{word}"
        );
    }
}

#[test]
fn scope_sets_parse_strictly_or_leniently() {
    let set =
        ScopeSet::parse("  openid system/Patient.rs system/Patient.rs  patient/*.read ").unwrap();
    assert_eq!(set.to_string(), "openid system/Patient.rs patient/*.read");
    assert!(set.has_resource_scopes());
    assert!(set.has_context(ContextKind::Patient));
    assert!(!set.has_context(ContextKind::User));
    assert!(ScopeSet::parse("openid patient/X.zz").is_err());

    let (lenient, errors) = ScopeSet::parse_lenient(["openid", "patient/X.zz", "user/*.rs"]);
    assert_eq!(lenient.to_string(), "openid user/*.rs");
    assert_eq!(errors.len(), 1);
    assert!(
        !ScopeSet::parse("openid fhirUser")
            .unwrap()
            .has_resource_scopes()
    );
}

#[derive(Debug, PartialEq)]
enum D {
    All,
    Deny,
    /// (context, filters) per grant
    Some(Vec<(ContextKind, Vec<(String, String)>)>),
}

fn check_allows(scopes: &str, interaction: Interaction, ty: &str, expected: D) {
    let set = ScopeSet::parse(scopes).unwrap();
    let got = match set.allows(interaction, ty) {
        Decision::Unrestricted => D::All,
        Decision::Deny => D::Deny,
        Decision::Restricted(grants) => {
            D::Some(grants.into_iter().map(|g| (g.context, g.filters)).collect())
        }
    };
    assert_eq!(got, expected, "'{scopes}' {interaction:?} {ty}");
}

#[test]
fn every_letter_grants_exactly_its_interaction() {
    use Interaction::*;
    for (letter, granted) in [
        ("c", Create),
        ("r", Read),
        ("u", Update),
        ("d", Delete),
        ("s", Search),
    ] {
        for interaction in Interaction::ALL {
            let expected = if interaction == granted {
                D::All
            } else {
                D::Deny
            };
            check_allows(
                &format!("system/Patient.{letter}"),
                interaction,
                "Patient",
                expected,
            );
        }
    }
}

#[test]
fn v1_words_map_to_letters() {
    use Interaction::*;
    for (scope, allowed) in [
        ("user/Patient.read", &[Read, Search][..]),
        ("user/Patient.write", &[Create, Update, Delete][..]),
        ("user/Patient.*", &Interaction::ALL[..]),
    ] {
        for interaction in Interaction::ALL {
            let expected = if allowed.contains(&interaction) {
                D::All
            } else {
                D::Deny
            };
            check_allows(scope, interaction, "Patient", expected);
        }
    }
}

#[test]
fn decisions() {
    use ContextKind::*;
    use Interaction::*;
    let f = |pairs: &[(&str, &str)]| filters(pairs);
    let cases: Vec<(&str, Interaction, &str, D)> = vec![
        // wildcards and types
        ("system/*.rs", Read, "Observation", D::All),
        ("system/*.rs", Search, "*", D::All),
        ("system/Patient.rs", Search, "*", D::Deny),
        ("system/Patient.rs", Read, "Observation", D::Deny),
        ("system/Patient.rs", Update, "Patient", D::Deny),
        ("", Read, "Patient", D::Deny),
        ("openid fhirUser launch/patient", Read, "Patient", D::Deny),
        // contexts: patient scopes restrict to the launch patient's compartment
        (
            "patient/*.rs",
            Read,
            "Observation",
            D::Some(vec![(Patient, vec![])]),
        ),
        ("user/*.rs", Read, "Observation", D::All),
        (
            "patient/*.rs user/Observation.r",
            Read,
            "Observation",
            D::All,
        ),
        (
            "patient/*.rs user/Observation.r",
            Search,
            "Observation",
            D::Some(vec![(Patient, vec![])]),
        ),
        // granular: alternatives OR, filters in one scope AND
        (
            "user/Observation.rs?category=laboratory user/Observation.rs?category=vital-signs&status=final",
            Search,
            "Observation",
            D::Some(vec![
                (User, f(&[("category", "laboratory")])),
                (User, f(&[("category", "vital-signs"), ("status", "final")])),
            ]),
        ),
        // an unfiltered scope for the same letter wins over filtered ones
        (
            "user/Observation.rs?category=laboratory user/Observation.s",
            Search,
            "Observation",
            D::All,
        ),
        // ... but only for its own letters
        (
            "user/Observation.rs?category=laboratory user/Observation.s",
            Read,
            "Observation",
            D::Some(vec![(User, f(&[("category", "laboratory")]))]),
        ),
        (
            "patient/Observation.rs?category=laboratory",
            Read,
            "Observation",
            D::Some(vec![(Patient, f(&[("category", "laboratory")]))]),
        ),
        (
            "patient/Observation.rs?category=laboratory",
            Read,
            "Condition",
            D::Deny,
        ),
        // duplicates collapse
        (
            "patient/*.rs patient/Observation.read",
            Read,
            "Observation",
            D::Some(vec![(Patient, vec![])]),
        ),
    ];
    for (scopes, interaction, ty, expected) in cases {
        check_allows(scopes, interaction, ty, expected);
    }
}

#[test]
fn granular_filters_for_searches() {
    let set = ScopeSet::parse(
        "user/Observation.rs?category=laboratory user/Observation.s?category=vital-signs&status=final patient/Condition.rs",
    )
    .unwrap();
    assert_eq!(
        set.granular_filters("Observation", Interaction::Search),
        vec![
            filters(&[("category", "laboratory")]),
            filters(&[("category", "vital-signs"), ("status", "final")]),
        ]
    );
    assert_eq!(
        set.granular_filters("Observation", Interaction::Read),
        vec![filters(&[("category", "laboratory")])]
    );
    assert!(
        set.granular_filters("Condition", Interaction::Search)
            .is_empty()
    );
    assert!(
        set.granular_filters("Patient", Interaction::Search)
            .is_empty()
    );
}

#[test]
fn restful_interactions_map_to_letters() {
    use Interaction::*;
    for (code, expected) in [
        ("read", Some(Read)),
        ("vread", Some(Read)),
        ("history-instance", Some(Read)),
        ("history-type", Some(Search)),
        ("history-system", Some(Search)),
        ("search-type", Some(Search)),
        ("search-system", Some(Search)),
        ("create", Some(Create)),
        ("update", Some(Update)),
        ("patch", Some(Update)),
        ("delete", Some(Delete)),
        ("capabilities", None),
        ("transaction", None),
        ("batch", None),
        ("operation", None),
    ] {
        assert_eq!(Interaction::from_restful(code), expected, "{code}");
    }
}

#[test]
fn coverage_of_requested_by_authorized() {
    let cases: &[(&str, &str, &str)] = &[
        // (requested, authorized, not covered)
        ("system/Patient.rs", "system/*.read", ""),
        ("system/Patient.read", "system/Patient.rs", ""),
        ("system/Patient.rs", "system/Patient.r system/Patient.s", ""),
        ("system/*.rs", "system/Patient.rs", "system/*.rs"),
        (
            "system/Patient.cruds",
            "system/*.rs",
            "system/Patient.cruds",
        ),
        ("system/Patient.rs", "user/Patient.rs", "system/Patient.rs"),
        (
            "system/Observation.rs?category=laboratory",
            "system/Observation.rs",
            "",
        ),
        (
            "system/Observation.rs?category=laboratory&status=final",
            "system/Observation.rs?category=laboratory",
            "",
        ),
        (
            "system/Observation.rs",
            "system/Observation.rs?category=laboratory",
            "system/Observation.rs",
        ),
        (
            "system/Observation.rs?category=vital-signs",
            "system/Observation.rs?category=laboratory",
            "system/Observation.rs?category=vital-signs",
        ),
        ("openid system/Patient.r", "system/*.*", "openid"),
        ("openid", "openid system/*.*", ""),
        ("", "system/*.*", ""),
    ];
    for (requested, authorized, missing) in cases {
        let requested_set = ScopeSet::parse(requested).unwrap();
        let authorized_set = ScopeSet::parse(authorized).unwrap();
        let got = ScopeSet::from_scopes(requested_set.not_covered_by(&authorized_set));
        assert_eq!(got.to_string(), *missing, "'{requested}' by '{authorized}'");
    }
}

#[test]
fn scope_sets_round_trip_through_serde() {
    #[derive(serde::Deserialize, serde::Serialize)]
    struct C {
        scope: ScopeSet,
    }
    let c: C = toml::from_str("scope = \"system/*.rs openid\"").unwrap();
    assert_eq!(c.scope.to_string(), "system/*.rs openid");
    assert!(toml::from_str::<C>("scope = \"system/*.x\"").is_err());
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"scope":"system/*.rs openid"}"#
    );
}
