//! The parser on meter names as Azure writes them (each seen in a Retail
//! Prices API answer or cost export; `docs/chargeback.md` says where).

use super::*;

const OPENAI: &str = "Azure OpenAI";
const GPT5: &str = "Azure OpenAI GPT5";
const REASONING: &str = "Azure OpenAI Reasoning";

fn meter(name: &str, product: &str) -> Meter {
    parse(name, "", product).unwrap_or_else(|e| panic!("{e}"))
}

fn read(name: &str, product: &str) -> (String, Option<String>, Scope, MeterKind, ServiceTier) {
    let m = meter(name, product);
    (m.model.unwrap_or_default(), m.version, m.scope, m.kind, m.tier)
}

fn v(s: &str) -> Option<String> {
    Some(s.to_owned())
}

use MeterKind::*;
use Scope::*;
use ServiceTier::{Batch, Default as Std, Flex, Priority};

#[test]
fn the_spellings_the_issue_lists() {
    assert_eq!(read("gpt-4o-mini-0718-Inp-glbl Tokens", OPENAI), ("gpt-4o-mini".into(), v("0718"), Global, Input, Std));
    assert_eq!(read("gpt 4o 1120 Inp global Tokens", OPENAI), ("gpt-4o".into(), v("1120"), Global, Input, Std));
    assert_eq!(read("o3 Inpt DZone 1M Tokens", REASONING), ("o3".into(), None, DataZone, Input, Std));
    assert_eq!(read("GPT 5 pro out glbl Tokens", GPT5), ("gpt-5-pro".into(), None, Global, Output, Std));
    // This meter name names no deployment type; its SKU name does.
    let mini = parse("5 mini Inp 1M Tokens", "5 mini Inp Gl", GPT5).unwrap();
    assert_eq!((mini.model.as_deref(), mini.scope, mini.kind), (Some("gpt-5-mini"), Global, Input));
    assert!(parse("5 mini Inp 1M Tokens", "", GPT5).unwrap_err().reason.contains("no deployment type"));
}

#[test]
fn gpt_4o_and_4_1_families_in_every_scope() {
    assert_eq!(read("gpt 4o 0513 Input global Tokens", OPENAI), ("gpt-4o".into(), v("0513"), Global, Input, Std));
    assert_eq!(
        read("gpt 4o 0513 Output Data Zone Tokens", OPENAI),
        ("gpt-4o".into(), v("0513"), DataZone, Output, Std)
    );
    assert_eq!(read("gpt-4o-0806-Outp-regnl Tokens", OPENAI), ("gpt-4o".into(), v("0806"), Regional, Output, Std));
    assert_eq!(read("gpt 4.1 nano Inp glbl Tokens", OPENAI), ("gpt-4.1-nano".into(), None, Global, Input, Std));
    assert_eq!(read("GPT 4.1 nano Global Input", OPENAI), ("gpt-4.1-nano".into(), None, Global, Input, Std));
    assert_eq!(
        read("gpt 4.1 nano Outp Data Zone Tokens", OPENAI),
        ("gpt-4.1-nano".into(), None, DataZone, Output, Std)
    );
}

#[test]
fn cached_inputs_and_cache_writes() {
    assert_eq!(read("gpt 4o mini 0718 cached Inp glbl Tokens", OPENAI).3, CachedInput);
    assert_eq!(
        read("GPT 5 Mini cchd Inpt DZone 1M Tokens", GPT5),
        ("gpt-5-mini".into(), None, DataZone, CachedInput, Std)
    );
    assert_eq!(read("5.4 mini cd Inp Gl 1M Tokens", GPT5), ("gpt-5.4-mini".into(), None, Global, CachedInput, Std));
    assert_eq!(read("gpt4omini-rt-txt1217 cchd Inp DZn Tokens", OPENAI).3, CachedInput);
    assert_eq!(
        read("6-sol ShortCo Cd Inp Std Gl 1M Tokens", GPT5),
        ("gpt-6-sol".into(), None, Global, CachedInput, Std)
    );
    assert_eq!(read("6-sol ShortCo Cd Wr Std Gl 1M Tokens", GPT5), ("gpt-6-sol".into(), None, Global, CacheWrite, Std));
}

#[test]
fn batch_priority_and_flex_tiers() {
    assert_eq!(
        read("gpt-4o-mini-0718-Batch-Inp-glbl Tokens", OPENAI),
        ("gpt-4o-mini".into(), v("0718"), Global, Input, Batch)
    );
    assert_eq!(
        read("gpt 4o mini0718 BatchOutp DataZone Tokens", OPENAI),
        ("gpt-4o-mini".into(), v("0718"), DataZone, Output, Batch)
    );
    assert_eq!(
        read("o3 mini 0131 Batch Outp Data Zone Tokens", REASONING),
        ("o3-mini".into(), v("0131"), DataZone, Output, Batch)
    );
    assert_eq!(read("GPT 5 Batch Inpt cchd Glbl 1M Tokens", GPT5), ("gpt-5".into(), None, Global, CachedInput, Batch));
    assert_eq!(read("gpt 4.1 bt Inp glbl Tokens", OPENAI).4, Batch);
    assert_eq!(read("5.4 mini pp Inp Gl 1M Tokens", GPT5), ("gpt-5.4-mini".into(), None, Global, Input, Priority));
    assert_eq!(read("6-sol ShortCo Inp PP Gl 1M Tokens", GPT5).4, Priority);
    assert_eq!(read("5 mini pp Opt Gl 1M Tokens", GPT5), ("gpt-5-mini".into(), None, Global, Output, Priority));
    assert_eq!(read("5.4 mini Inp Flex Gl 1M Tokens", GPT5).4, Flex);
}

#[test]
fn reasoning_embedding_and_legacy_names() {
    assert_eq!(
        read("o3 mini 0131 input Data Zone Tokens", REASONING),
        ("o3-mini".into(), v("0131"), DataZone, Input, Std)
    );
    assert_eq!(read("o3 0416 Inp glbl Tokens", REASONING), ("o3".into(), v("0416"), Global, Input, Std));
    assert_eq!(read("o4-mini 0416 Inp regnl Tokens", REASONING), ("o4-mini".into(), v("0416"), Regional, Input, Std));
    assert_eq!(read("o1 mini cached input Data Zone Tokens", OPENAI).3, CachedInput);
    assert_eq!(
        read("text embedding 3 large DZ Tokens", OPENAI),
        ("text-embedding-3-large".into(), None, DataZone, Input, Std)
    );
    assert_eq!(read("text-embedding-3-large-glbl Tokens", OPENAI).0, "text-embedding-3-large");
    assert_eq!(read("gpt-35-turbo16K-Inp-glbl Tokens", OPENAI).0, "gpt-35-turbo-16k");
    assert_eq!(
        read("gpt-35-turbo-4k-Input-regional Tokens", OPENAI),
        ("gpt-35-turbo-4k".into(), None, Regional, Input, Std)
    );
    assert_eq!(
        read("gpt 5.2 chat 0210 inp Gl 1M Tokens", GPT5),
        ("gpt-5.2-chat".into(), v("0210"), Global, Input, Std)
    );
}

#[test]
fn audio_and_realtime_text_and_audio_tokens() {
    assert_eq!(
        read("gpt-4o-aud-1217 Inp glbl Tokens", OPENAI),
        ("gpt-4o-audio-preview".into(), v("1217"), Global, AudioInput, Std)
    );
    assert_eq!(
        read("gpt-4o-aud-1217-txt Outp glbl Tokens", OPENAI),
        ("gpt-4o-audio-preview".into(), v("1217"), Global, Output, Std)
    );
    assert_eq!(
        read("gpt4omini-aud1217 Outp DZone Tokens", OPENAI),
        ("gpt-4o-mini-audio-preview".into(), v("1217"), DataZone, AudioOutput, Std)
    );
    assert_eq!(
        read("gpt-4o-rt-txt-1217 Inp glbl Tokens", OPENAI),
        ("gpt-4o-realtime-preview".into(), v("1217"), Global, Input, Std)
    );
    assert_eq!(
        read("gpt-4o-rt-aud-1217 Outp regnl Tokens", OPENAI),
        ("gpt-4o-realtime-preview".into(), v("1217"), Regional, AudioOutput, Std)
    );
    assert_eq!(
        read("gpt4o realtime prvw text inp glbl Tokens", OPENAI),
        ("gpt-4o-realtime-preview".into(), None, Global, Input, Std)
    );
    assert_eq!(
        read("gpt4o realtimePrvwAudInp DataZone Tokens", OPENAI),
        ("gpt-4o-realtime-preview".into(), None, DataZone, AudioInput, Std)
    );
    assert_eq!(read("gpt4o realtime cached text inp glbl Tokens", OPENAI).3, CachedInput);
}

#[test]
fn provisioned_units_name_no_model() {
    for (name, scope) in [
        ("Provisioned Managed Global Unit", Global),
        ("Provisioned Managed Data Zone Unit", DataZone),
        ("Provisioned Managed Regional Unit", Regional),
    ] {
        let m = meter(name, OPENAI);
        assert_eq!((m.model, m.scope, m.kind), (None, scope, ProvisionedUnit), "{name}");
    }
}

#[test]
fn long_context_meters_are_told_apart() {
    let long = meter("5.4 longco inp Gl 1M Tokens", GPT5);
    assert_eq!((long.model.as_deref(), long.context), (Some("gpt-5.4"), Context::Long));
    assert_eq!(meter("6-sol LongCo Opt Std Gl 1M Tokens", GPT5).context, Context::Long);
    assert_eq!(meter("6-sol ShortCo Opt Std Gl 1M Tokens", GPT5).context, Context::Standard);
}

#[test]
fn names_it_cannot_read_are_unparsed_with_a_reason_never_guessed() {
    for (name, product, reason) in [
        ("54 mini Inp Flex Gl 1M Tokens", GPT5, "not a GPT version number"),
        ("5 mini Inp Gl 1M Tokens", OPENAI, "does not say which family"),
        ("gpt 4.1 Inp Tokens", OPENAI, "no deployment type"),
        ("Az-Text-Embedding-3-Large Tokens", OPENAI, "no deployment type"),
        ("gpt-4o Inp glbl regnl Tokens", OPENAI, "more than one deployment type"),
        ("gpt 4.1 glbl Tokens", OPENAI, "no token kind"),
        ("gpt 4.1 Inp Outp glbl Tokens", OPENAI, "both input and output"),
        ("gpt 4o 1120 Batch pp Inp glbl", OPENAI, "more than one service tier"),
        ("Kontext Pro glbl Images", OPENAI, "not a token or PTU price"),
        ("gpt-4.1-mini-ft mdl opt glbl", OPENAI, "fine-tuning"),
        ("Provisioned Managed Unit", OPENAI, "no deployment type"),
        ("Inp glbl Tokens", OPENAI, "no model"),
        ("", OPENAI, "empty name"),
    ] {
        let error = parse(name, "", product).unwrap_err();
        assert!(error.reason.contains(reason), "{name}: {}", error.reason);
        assert_eq!(error.name, name);
    }
}

#[test]
fn the_sku_name_is_read_too_and_must_agree() {
    let m = parse("gpt-4o-mini-0718-Inp-glbl Tokens", "gpt-4o-mini-0718-Inp-glbl", OPENAI).unwrap();
    assert_eq!(m.model.as_deref(), Some("gpt-4o-mini"));
    let from_sku = parse("", "o3 mini 0131 input Data Zone", REASONING).unwrap();
    assert_eq!(from_sku.scope, DataZone);
    let error = parse("gpt 4o 1120 Inp glbl Tokens", "gpt 4o 1120 Outp glbl", OPENAI).unwrap_err();
    assert!(error.reason.contains("SKU name"), "{}", error.reason);
}

#[test]
fn the_mapping_file_wins_over_the_parser() {
    let mapping = MeterMapping::parse(
        "meter,model,deployment_type,token_kind,service_tier\n\
         54 mini Inp Flex Gl 1M Tokens,gpt-5.4-mini,global,input,flex\n\
         id-1,gpt-4o,regional,output,\n\
         id-2,,,ignore,\n",
        "meters.csv",
    )
    .unwrap();
    let flex = identify(&mapping, "x", "54 mini Inp Flex Gl 1M Tokens", "", GPT5);
    assert!(matches!(flex, Identified::Meter(ref m) if m.tier == Flex && m.model.as_deref() == Some("gpt-5.4-mini")));
    // The parser would read this as global input; the file says otherwise.
    let overridden = identify(&mapping, "id-1", "gpt 4o 1120 Inp glbl Tokens", "", OPENAI);
    assert!(matches!(overridden, Identified::Meter(ref m) if m.kind == Output && m.scope == Regional));
    assert_eq!(identify(&mapping, "id-2", "gpt 4o 1120 Inp glbl Tokens", "", OPENAI), Identified::Ignored);
    assert!(matches!(identify(&mapping, "id-3", "gpt 4.1 Inp", "", OPENAI), Identified::Unparsed(_)));
    assert!(matches!(identify(&mapping, "id-3", "gpt 4.1 Inp glbl", "", OPENAI), Identified::Meter(_)));
}

#[test]
fn meters_read_as_a_sentence() {
    assert_eq!(meter("gpt 4o 1120 Batch Outp glbl Tokens", OPENAI).to_string(), "gpt-4o (1120) global output batch");
    assert_eq!(meter("Provisioned Managed Global Unit", OPENAI).to_string(), "any model global ptu-hour");
}
