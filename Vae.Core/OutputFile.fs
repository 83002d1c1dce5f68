/// A file written on request (the runner's `sample` and `reconstruct` pictures), checked before the
/// work that fills it: a wrong extension or a folder that cannot be written is refused at once, not
/// after a checkpoint and a data set have been read.
module Vae.Core.OutputFile

open System
open System.IO

/// `path` as a full path, once it is known that a file of `extension` (e.g. ".png") can be written
/// there: it ends in the extension, is not a folder, and its folder exists (or is created) and takes
/// a new file. Raises the bad-input error naming the file otherwise.
let check (extension: string) (path: string) : string =
    if String.IsNullOrWhiteSpace path then InvalidInput.about "--out" "must not be empty"
    let source = $"output file {path}"
    if not (path.EndsWith(extension, StringComparison.OrdinalIgnoreCase)) || path.Length = extension.Length then
        InvalidInput.about source $"must be a {extension.TrimStart('.').ToUpperInvariant()} file: a name ending in {extension}"
    let full =
        try Path.GetFullPath path
        with :? ArgumentException as e -> InvalidInput.about source $"is not a path ({e.Message})"
    if Directory.Exists full then InvalidInput.about source "is a folder"
    try
        let folder = Directory.CreateDirectory(Path.GetDirectoryName full)
        // A probe, deleted as it closes: permissions, a read-only file system or a full quota show here.
        let probe = Path.Combine(folder.FullName, $".{Path.GetFileName full}.{Guid.NewGuid():N}.probe")
        use _ = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)
        full
    with :? IOException | :? UnauthorizedAccessException as e -> InvalidInput.about source $"cannot be written ({e.Message})"
