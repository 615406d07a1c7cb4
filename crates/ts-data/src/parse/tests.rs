use super::*;

const HEADER: &str = "# a comment\n@problemName Toy\n@timeStamps false\n@missing true\n@univariate false\n\
                      @dimensions 2\n@equalLength false\n@classLabel true up down\n@data\n";

fn parse_str(text: &str, labels: Labels, missing: Missing) -> Result<TsFile> {
    parse(text.as_bytes(), Path::new("toy.ts"), labels, missing)
}

fn ok(text: &str) -> TsFile {
    parse_str(text, Labels::Required, Missing::Refuse).unwrap()
}

fn err(text: &str) -> String {
    parse_str(text, Labels::Required, Missing::Refuse).unwrap_err().to_string()
}

#[test]
fn reads_header_and_cases_of_different_lengths_time_major() {
    let file = ok(&format!("{HEADER}1,2,3:4,5,6:down\n\n# between cases\n7:8:up\n"));
    let h = &file.header;
    assert_eq!(h.problem_name.as_deref(), Some("Toy"));
    assert_eq!((h.dimensions, h.equal_length, h.series_length), (2, Some(false), None));
    assert_eq!(h.class_names, ["up", "down"]);
    assert_eq!(file.cases.len(), 2);
    assert_eq!(file.cases[0], Case { values: vec![1., 4., 2., 5., 3., 6.], length: 3, label: Some(1), line: 10 });
    assert_eq!(file.cases[1], Case { values: vec![7., 8.], length: 1, label: Some(0), line: 13 });
}

#[test]
fn header_keys_are_case_insensitive_and_univariate_needs_no_dimensions() {
    let text = "@problemname X\n@timestamps FALSE\n@univariate true\n@equallength true\n@serieslength 3\n\
                @classlabel true a b\n@data\n1,2,3:a\n4,5,6:b\n";
    let file = ok(text);
    assert_eq!((file.header.dimensions, file.header.series_length), (1, Some(3)));
    assert_eq!(file.cases[1].values, [4., 5., 6.]);
    // Dimensions come from the first case when the header does not say.
    let file = ok("@classLabel true a b\n@data\n1,2:3,4:5,6:b\n");
    assert_eq!(file.header.dimensions, 3);
}

#[test]
fn malformed_files_name_the_line_and_the_problem() {
    let cases = [
        (format!("{HEADER}1,2:3,4\n"), "toy.ts:10: 2 `:`-separated fields: expected 2 dimensions then the class label"),
        (format!("{HEADER}1,2:3:up\n"), "toy.ts:10: dimension 2 has 1 values but dimension 1 has 2"),
        (format!("{HEADER}1,x:3,4:up\n"), "toy.ts:10: `x` at dimension 1, point 2 is not a finite number"),
        (format!("{HEADER}1,inf:3,4:up\n"), "point 2 is not a finite number"),
        (format!("{HEADER}1,2:3,4:left\n"), "toy.ts:10: class label `left` is not one of `@classLabel`'s: up down"),
        (format!("{HEADER}:3,4:up\n"), "toy.ts:10: dimension 1 has no value"),
        ("@problemName X\n1,2:a\n".to_owned(), "toy.ts:2: `1,2:a` before `@data`: expected a header line"),
        ("@problemName X\n@classLabel true a b\n".to_owned(), "toy.ts:2: no `@data` line"),
        ("@classLabel false\n@data\n".to_owned(), "toy.ts:2: no `@classLabel true <names...>`"),
        ("@classLabel true a\n@data\n".to_owned(), "toy.ts:1: `@classLabel true` needs at least two class names"),
        ("@classLabel true a b a\n".to_owned(), "class name `a` given twice"),
        ("@timeStamps true\n".to_owned(), "toy.ts:1: time-stamped series"),
        ("@targetlabel true\n".to_owned(), "a regression problem"),
        ("@dimensions many\n".to_owned(), "`@dimensions` needs a positive whole number, not `many`"),
        ("@univariate maybe\n".to_owned(), "`@univariate` needs `true` or `false`"),
        ("@colour blue\n".to_owned(), "toy.ts:1: unknown header key `@colour`"),
        (
            "@equalLength true\n@seriesLength 3\n@univariate true\n@classLabel true a b\n@data\n1,2:a\n".to_owned(),
            "toy.ts:6: 2 values per dimension, but the header says `@seriesLength 3`",
        ),
    ];
    for (text, want) in cases {
        let got = err(&text);
        assert!(got.contains(want), "{text:?}\n  got:  {got}\n  want: {want}");
    }
    let bytes = b"@data\n\xff\xfe\n";
    let got = parse(&bytes[..], Path::new("b.ts"), Labels::Required, Missing::Refuse).unwrap_err().to_string();
    assert!(got.contains("b.ts:1: no `@classLabel") || got.contains("not UTF-8"), "{got}");
}

#[test]
fn missing_values_are_refused_by_default_or_filled() {
    let text = format!("{HEADER}1,?,3:NaN,5,nan:up\n");
    let got = err(&text);
    assert!(got.contains("toy.ts:10: missing value at dimension 1, point 2") && got.contains("data.missing"), "{got}");
    let zero = parse_str(&text, Labels::Required, Missing::Zero).unwrap();
    assert_eq!(zero.cases[0].values, [1., 0., 0., 5., 3., 0.]);
    let previous = parse_str(&text, Labels::Required, Missing::Previous).unwrap();
    // Dimension 2: a leading gap takes the first value present; a trailing one the previous.
    assert_eq!(previous.cases[0].values, [1., 5., 1., 5., 3., 5.]);
    let all = parse_str(&format!("{HEADER}?,?:1,2:up\n"), Labels::Required, Missing::Previous).unwrap();
    assert_eq!(all.cases[0].values, [0., 1., 0., 2.]);
}

#[test]
fn labels_may_be_left_out_of_files_to_classify() {
    let text = format!("{HEADER}1,2:3,4\n5:6:down\n");
    let file = parse_str(&text, Labels::Optional, Missing::Refuse).unwrap();
    assert_eq!(file.cases.iter().map(|c| c.label).collect::<Vec<_>>(), [None, Some(1)]);
    let got = parse_str(&format!("{HEADER}1\n"), Labels::Optional, Missing::Refuse).unwrap_err().to_string();
    assert!(got.contains("expected 2 dimensions then optionally the label"), "{got}");
}

#[test]
fn an_overlong_line_is_an_error_not_an_allocation() {
    // An endless line (no newline) stops at the cap.
    let endless = std::io::repeat(b'1').take(MAX_LINE_BYTES + 10);
    let reader = BufReader::new(std::io::Read::chain(&b"@classLabel true a b\n@data\n"[..], endless));
    let got = parse(reader, Path::new("big.ts"), Labels::Required, Missing::Refuse).unwrap_err().to_string();
    assert!(got.contains("big.ts:3: line longer than"), "{got}");
}

#[test]
fn a_missing_file_names_it() {
    let got = read(Path::new("/nonexistent/x.ts"), Labels::Required, Missing::Refuse).unwrap_err().to_string();
    assert!(got.starts_with("/nonexistent/x.ts: "), "{got}");
}
