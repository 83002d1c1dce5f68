/// The one error for input the library cannot use: a corrupt or missing data file, an invalid
/// definition, a hostile checkpoint, an impossible option, an unusable output folder. Every
/// validator raises it; the façade and the runner map it (and nothing else) to "bad input", exit 2.
/// Anything else that escapes is a bug.
namespace Vae.Core

open System

/// Messages that quote what users give: one line, their values quoted and cut.
module Text =
    /// `text` with the characters `alsoEscaped` accepts, control characters, and Unicode's line and
    /// paragraph separators written as JSON escapes (\n, \", \u0007).
    let private escapeWith (alsoEscaped: char -> bool) (text: string) =
        let needs (c: char) = Char.IsControl c || c = '\u2028' || c = '\u2029' || alsoEscaped c
        let escape (c: char) =
            match c with
            | '\n' -> "\\n"
            | '\r' -> "\\r"
            | '\t' -> "\\t"
            | '"' -> "\\\""
            | '\\' -> "\\\\"
            | c -> $"\\u{int c:x4}"
        if Seq.exists needs text then String.Concat(text |> Seq.map (fun c -> if needs c then escape c else string c)) else text

    /// `text` on one line, its control characters written as JSON escapes: messages quote file names
    /// and values from users, and a newline among them split a message in two.
    let oneLine (text: string) = escapeWith (fun _ -> false) text

    /// Characters of a user's value shown in a message; the rest is cut (a name may be 1 MB long).
    [<Literal>]
    let QuotedLength = 80

    /// A user's value in a message: in quotes, escaped as a JSON string would be (a quote, a backslash
    /// or a newline inside is not mistaken for the message's own), cut after `QuotedLength` characters.
    let quote (value: string) =
        let cut = if value.Length > QuotedLength && Char.IsHighSurrogate value.[QuotedLength - 1] then QuotedLength - 1 else QuotedLength
        let shown = if value.Length > cut then value.Substring(0, cut) + "…" else value
        "\"" + escapeWith (fun c -> c = '"' || c = '\\') shown + "\""

/// Input the library cannot use. The message is one line: "source: location: problem", e.g.
/// "experiments/task2.json: models[2].latent: must be at least 1" or
/// "data/train-images-idx3-ubyte.gz: truncated: 12 of 47040016 bytes"; the location is left out
/// when there is none.
type InvalidInputException(source: string, location: string, problem: string, inner: exn) =
    inherit Exception(
        Text.oneLine (if String.IsNullOrEmpty location then $"{source}: {problem}" else $"{source}: {location}: {problem}"),
        inner)

    new(source, location, problem) = InvalidInputException(source, location, problem, null)

    /// What the input is: a file, a folder, an option ("--epochs"), a model's settings.
    member _.Input = source
    /// Where in it: a JSON path ("models[2].latent"), a field, a tensor's name; "" for the whole input.
    member _.Location = location
    /// What is wrong, e.g. "must be at least 1".
    member _.Problem = problem

/// Raising the one bad-input error.
module InvalidInput =
    /// Raises the error about `location` in `source`.
    let raise source location problem : 'a = Operators.raise (InvalidInputException(source, location, problem))

    /// Raises the error about the whole of `source`.
    let about source problem : 'a = Operators.raise (InvalidInputException(source, "", problem))

    /// The value of `result`, or the error about `source` with its message.
    let orRaise source (result: Result<'a, string>) : 'a =
        match result with
        | Ok value -> value
        | Error problem -> about source problem
