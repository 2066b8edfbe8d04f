
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'convoy' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'convoy'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'convoy' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy one source to one destination')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run the copies of a spec file (all, or those named with --copy)')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what a spec (or SRC DST) would do, without doing it')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check every endpoint of a spec (or SRC DST): DNS, TCP, TLS, login and access rights. Writes nothing. Exit 3 when an endpoint fails a security check, 1 when one is unreachable or refuses access')
            [CompletionResult]::new('extract', 'extract', [CompletionResultType]::ParameterValue, 'Extract a source into a new run on a stage (the first half of a staged copy); prints where the run is')
            [CompletionResult]::new('load', 'load', [CompletionResultType]::ParameterValue, 'Load a complete stage run into a destination (the second half of a staged copy), verifying every part; the run is marked loaded')
            [CompletionResult]::new('stage', 'stage', [CompletionResultType]::ParameterValue, 'List the runs of a stage, or remove runs')
            [CompletionResult]::new('secrets', 'secrets', [CompletionResultType]::ParameterValue, 'Manage the encrypted secret vault and sealed values')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions for bash, zsh, fish or powershell')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'convoy;copy' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Destination format: csv, parquet, json (JSON Lines) or ipc (Arrow)')
            [CompletionResult]::new('--source-format', '--source-format', [CompletionResultType]::ParameterName, 'Source format, when the extension does not tell it')
            [CompletionResult]::new('--schema', '--schema', [CompletionResultType]::ParameterName, 'Column types of a CSV or JSON source, e.g. `id:int64,amount:decimal(18,4),at:timestamptz`. Without it types are inferred from a sample')
            [CompletionResult]::new('--infer-rows', '--infer-rows', [CompletionResultType]::ParameterName, 'Rows sampled to infer a CSV or JSON schema')
            [CompletionResult]::new('--delimiter', '--delimiter', [CompletionResultType]::ParameterName, 'CSV field delimiter (one character, or `tab`); detected from a sample among `,` `;` tab `|` when not given (tab for `.tsv`)')
            [CompletionResult]::new('--quote', '--quote', [CompletionResultType]::ParameterName, 'CSV quote character')
            [CompletionResult]::new('--escape', '--escape', [CompletionResultType]::ParameterName, 'CSV escape character (default: quotes are doubled)')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Text that stands for NULL in CSV (default: empty field)')
            [CompletionResult]::new('--max-rows-per-file', '--max-rows-per-file', [CompletionResultType]::ParameterName, 'Split the output into files of at most N rows in the destination directory, with a manifest written last')
            [CompletionResult]::new('--row-group-size', '--row-group-size', [CompletionResultType]::ParameterName, 'Parquet row-group size in rows')
            [CompletionResult]::new('--compression', '--compression', [CompletionResultType]::ParameterName, 'Compression. Parquet: the page codec, zstd (default), zstd(LEVEL), snappy, lz4, gzip, none. CSV and JSON Lines: the file''s, gzip, gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none (a name ending in .gz, .zst, .bz2 or .xz also selects it)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'How the destination is updated: replace (files, default), append, merge, incremental (databases)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Key column of `--mode merge` (repeat for a composite key)')
            [CompletionResult]::new('--cursor', '--cursor', [CompletionResultType]::ParameterName, 'Cursor column of `--mode incremental`: only rows with a greater value than the destination''s maximum are copied')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'A query to read instead of a table, for a database source (`postgres://user@host/db`, `mssql://user@host/db`)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Name of the copy in reports')
            [CompletionResult]::new('--stage', '--stage', [CompletionResultType]::ParameterName, 'Copy through a stage: extract the source into a run under this location (s3://, az://, gs://, a local directory), load the destination from it, then remove the run')
            [CompletionResult]::new('--recipient', '--recipient', [CompletionResultType]::ParameterName, 'Who may decrypt the staged parts: an `age1…` recipient, as printed by `convoy secrets identity` on that machine (repeatable; implies --encrypt-stage)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--no-header', '--no-header', [CompletionResultType]::ParameterName, 'CSV files have no header line (columns are named column_1, column_2, …). Without --header or --no-header, whether line 1 is a header is detected from a sample')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'CSV files have a header line, even if its fields look like data')
            [CompletionResult]::new('--quoted-empty-is-null', '--quoted-empty-is-null', [CompletionResultType]::ParameterName, 'Reading CSV: a quoted empty field (`""`) is NULL too, like an unquoted one. By default a `""` in a text column is an empty string, as PostgreSQL, DuckDB and Spark write it')
            [CompletionResult]::new('--keep-stage', '--keep-stage', [CompletionResultType]::ParameterName, 'Keep the staged run after a successful load')
            [CompletionResult]::new('--encrypt-stage', '--encrypt-stage', [CompletionResultType]::ParameterName, 'Encrypt every staged part on this machine before it leaves (age, to this machine''s identity unless --recipient is given)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Validate and open the source, write nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'convoy;run' {
            [CompletionResult]::new('--copy', '--copy', [CompletionResultType]::ParameterName, 'Run only the copies with these names (repeatable)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Take share I of N (1 ≤ I ≤ N), e.g. --shard 2/3')
            [CompletionResult]::new('--shards', '--shards', [CompletionResultType]::ParameterName, 'Take one share of N, the index from the scheduler''s environment: CONVOY_SHARD (1-based), JOB_COMPLETION_INDEX (Kubernetes Indexed Job), AWS_BATCH_JOB_ARRAY_INDEX, SLURM_ARRAY_TASK_ID. N may also come from CONVOY_SHARDS')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Validate and open every source, write nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;plan' {
            [CompletionResult]::new('--copy', '--copy', [CompletionResultType]::ParameterName, 'With a spec: only these copies (repeatable)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Destination format: csv, parquet, json (JSON Lines) or ipc (Arrow)')
            [CompletionResult]::new('--source-format', '--source-format', [CompletionResultType]::ParameterName, 'Source format, when the extension does not tell it')
            [CompletionResult]::new('--schema', '--schema', [CompletionResultType]::ParameterName, 'Column types of a CSV or JSON source, e.g. `id:int64,amount:decimal(18,4),at:timestamptz`. Without it types are inferred from a sample')
            [CompletionResult]::new('--infer-rows', '--infer-rows', [CompletionResultType]::ParameterName, 'Rows sampled to infer a CSV or JSON schema')
            [CompletionResult]::new('--delimiter', '--delimiter', [CompletionResultType]::ParameterName, 'CSV field delimiter (one character, or `tab`); detected from a sample among `,` `;` tab `|` when not given (tab for `.tsv`)')
            [CompletionResult]::new('--quote', '--quote', [CompletionResultType]::ParameterName, 'CSV quote character')
            [CompletionResult]::new('--escape', '--escape', [CompletionResultType]::ParameterName, 'CSV escape character (default: quotes are doubled)')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Text that stands for NULL in CSV (default: empty field)')
            [CompletionResult]::new('--max-rows-per-file', '--max-rows-per-file', [CompletionResultType]::ParameterName, 'Split the output into files of at most N rows in the destination directory, with a manifest written last')
            [CompletionResult]::new('--row-group-size', '--row-group-size', [CompletionResultType]::ParameterName, 'Parquet row-group size in rows')
            [CompletionResult]::new('--compression', '--compression', [CompletionResultType]::ParameterName, 'Compression. Parquet: the page codec, zstd (default), zstd(LEVEL), snappy, lz4, gzip, none. CSV and JSON Lines: the file''s, gzip, gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none (a name ending in .gz, .zst, .bz2 or .xz also selects it)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'How the destination is updated: replace (files, default), append, merge, incremental (databases)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Key column of `--mode merge` (repeat for a composite key)')
            [CompletionResult]::new('--cursor', '--cursor', [CompletionResultType]::ParameterName, 'Cursor column of `--mode incremental`: only rows with a greater value than the destination''s maximum are copied')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'A query to read instead of a table, for a database source (`postgres://user@host/db`, `mssql://user@host/db`)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Name of the copy in reports')
            [CompletionResult]::new('--stage', '--stage', [CompletionResultType]::ParameterName, 'Copy through a stage: extract the source into a run under this location (s3://, az://, gs://, a local directory), load the destination from it, then remove the run')
            [CompletionResult]::new('--recipient', '--recipient', [CompletionResultType]::ParameterName, 'Who may decrypt the staged parts: an `age1…` recipient, as printed by `convoy secrets identity` on that machine (repeatable; implies --encrypt-stage)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--no-header', '--no-header', [CompletionResultType]::ParameterName, 'CSV files have no header line (columns are named column_1, column_2, …). Without --header or --no-header, whether line 1 is a header is detected from a sample')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'CSV files have a header line, even if its fields look like data')
            [CompletionResult]::new('--quoted-empty-is-null', '--quoted-empty-is-null', [CompletionResultType]::ParameterName, 'Reading CSV: a quoted empty field (`""`) is NULL too, like an unquoted one. By default a `""` in a text column is an empty string, as PostgreSQL, DuckDB and Spark write it')
            [CompletionResult]::new('--keep-stage', '--keep-stage', [CompletionResultType]::ParameterName, 'Keep the staged run after a successful load')
            [CompletionResult]::new('--encrypt-stage', '--encrypt-stage', [CompletionResultType]::ParameterName, 'Encrypt every staged part on this machine before it leaves (age, to this machine''s identity unless --recipient is given)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;check' {
            [CompletionResult]::new('--copy', '--copy', [CompletionResultType]::ParameterName, 'With a spec: only these copies (repeatable)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Destination format: csv, parquet, json (JSON Lines) or ipc (Arrow)')
            [CompletionResult]::new('--source-format', '--source-format', [CompletionResultType]::ParameterName, 'Source format, when the extension does not tell it')
            [CompletionResult]::new('--schema', '--schema', [CompletionResultType]::ParameterName, 'Column types of a CSV or JSON source, e.g. `id:int64,amount:decimal(18,4),at:timestamptz`. Without it types are inferred from a sample')
            [CompletionResult]::new('--infer-rows', '--infer-rows', [CompletionResultType]::ParameterName, 'Rows sampled to infer a CSV or JSON schema')
            [CompletionResult]::new('--delimiter', '--delimiter', [CompletionResultType]::ParameterName, 'CSV field delimiter (one character, or `tab`); detected from a sample among `,` `;` tab `|` when not given (tab for `.tsv`)')
            [CompletionResult]::new('--quote', '--quote', [CompletionResultType]::ParameterName, 'CSV quote character')
            [CompletionResult]::new('--escape', '--escape', [CompletionResultType]::ParameterName, 'CSV escape character (default: quotes are doubled)')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Text that stands for NULL in CSV (default: empty field)')
            [CompletionResult]::new('--max-rows-per-file', '--max-rows-per-file', [CompletionResultType]::ParameterName, 'Split the output into files of at most N rows in the destination directory, with a manifest written last')
            [CompletionResult]::new('--row-group-size', '--row-group-size', [CompletionResultType]::ParameterName, 'Parquet row-group size in rows')
            [CompletionResult]::new('--compression', '--compression', [CompletionResultType]::ParameterName, 'Compression. Parquet: the page codec, zstd (default), zstd(LEVEL), snappy, lz4, gzip, none. CSV and JSON Lines: the file''s, gzip, gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none (a name ending in .gz, .zst, .bz2 or .xz also selects it)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'How the destination is updated: replace (files, default), append, merge, incremental (databases)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Key column of `--mode merge` (repeat for a composite key)')
            [CompletionResult]::new('--cursor', '--cursor', [CompletionResultType]::ParameterName, 'Cursor column of `--mode incremental`: only rows with a greater value than the destination''s maximum are copied')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'A query to read instead of a table, for a database source (`postgres://user@host/db`, `mssql://user@host/db`)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Name of the copy in reports')
            [CompletionResult]::new('--stage', '--stage', [CompletionResultType]::ParameterName, 'Copy through a stage: extract the source into a run under this location (s3://, az://, gs://, a local directory), load the destination from it, then remove the run')
            [CompletionResult]::new('--recipient', '--recipient', [CompletionResultType]::ParameterName, 'Who may decrypt the staged parts: an `age1…` recipient, as printed by `convoy secrets identity` on that machine (repeatable; implies --encrypt-stage)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--no-header', '--no-header', [CompletionResultType]::ParameterName, 'CSV files have no header line (columns are named column_1, column_2, …). Without --header or --no-header, whether line 1 is a header is detected from a sample')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'CSV files have a header line, even if its fields look like data')
            [CompletionResult]::new('--quoted-empty-is-null', '--quoted-empty-is-null', [CompletionResultType]::ParameterName, 'Reading CSV: a quoted empty field (`""`) is NULL too, like an unquoted one. By default a `""` in a text column is an empty string, as PostgreSQL, DuckDB and Spark write it')
            [CompletionResult]::new('--keep-stage', '--keep-stage', [CompletionResultType]::ParameterName, 'Keep the staged run after a successful load')
            [CompletionResult]::new('--encrypt-stage', '--encrypt-stage', [CompletionResultType]::ParameterName, 'Encrypt every staged part on this machine before it leaves (age, to this machine''s identity unless --recipient is given)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;extract' {
            [CompletionResult]::new('--run-id', '--run-id', [CompletionResultType]::ParameterName, 'The run''s id (default: one made from the time and a random part). Shards of one run share it (e.g. the scheduler''s job name)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Take share I of N (1 ≤ I ≤ N), e.g. --shard 2/3')
            [CompletionResult]::new('--shards', '--shards', [CompletionResultType]::ParameterName, 'Take one share of N, the index from the scheduler''s environment: CONVOY_SHARD (1-based), JOB_COMPLETION_INDEX (Kubernetes Indexed Job), AWS_BATCH_JOB_ARRAY_INDEX, SLURM_ARRAY_TASK_ID. N may also come from CONVOY_SHARDS')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Destination format: csv, parquet, json (JSON Lines) or ipc (Arrow)')
            [CompletionResult]::new('--source-format', '--source-format', [CompletionResultType]::ParameterName, 'Source format, when the extension does not tell it')
            [CompletionResult]::new('--schema', '--schema', [CompletionResultType]::ParameterName, 'Column types of a CSV or JSON source, e.g. `id:int64,amount:decimal(18,4),at:timestamptz`. Without it types are inferred from a sample')
            [CompletionResult]::new('--infer-rows', '--infer-rows', [CompletionResultType]::ParameterName, 'Rows sampled to infer a CSV or JSON schema')
            [CompletionResult]::new('--delimiter', '--delimiter', [CompletionResultType]::ParameterName, 'CSV field delimiter (one character, or `tab`); detected from a sample among `,` `;` tab `|` when not given (tab for `.tsv`)')
            [CompletionResult]::new('--quote', '--quote', [CompletionResultType]::ParameterName, 'CSV quote character')
            [CompletionResult]::new('--escape', '--escape', [CompletionResultType]::ParameterName, 'CSV escape character (default: quotes are doubled)')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Text that stands for NULL in CSV (default: empty field)')
            [CompletionResult]::new('--max-rows-per-file', '--max-rows-per-file', [CompletionResultType]::ParameterName, 'Split the output into files of at most N rows in the destination directory, with a manifest written last')
            [CompletionResult]::new('--row-group-size', '--row-group-size', [CompletionResultType]::ParameterName, 'Parquet row-group size in rows')
            [CompletionResult]::new('--compression', '--compression', [CompletionResultType]::ParameterName, 'Compression. Parquet: the page codec, zstd (default), zstd(LEVEL), snappy, lz4, gzip, none. CSV and JSON Lines: the file''s, gzip, gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none (a name ending in .gz, .zst, .bz2 or .xz also selects it)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'How the destination is updated: replace (files, default), append, merge, incremental (databases)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Key column of `--mode merge` (repeat for a composite key)')
            [CompletionResult]::new('--cursor', '--cursor', [CompletionResultType]::ParameterName, 'Cursor column of `--mode incremental`: only rows with a greater value than the destination''s maximum are copied')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'A query to read instead of a table, for a database source (`postgres://user@host/db`, `mssql://user@host/db`)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Name of the copy in reports')
            [CompletionResult]::new('--stage', '--stage', [CompletionResultType]::ParameterName, 'Copy through a stage: extract the source into a run under this location (s3://, az://, gs://, a local directory), load the destination from it, then remove the run')
            [CompletionResult]::new('--recipient', '--recipient', [CompletionResultType]::ParameterName, 'Who may decrypt the staged parts: an `age1…` recipient, as printed by `convoy secrets identity` on that machine (repeatable; implies --encrypt-stage)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--coordinate', '--coordinate', [CompletionResultType]::ParameterName, 'Be the coordinator of a sharded extract: cut the source once for every shard (freeze a listing; fix key ranges and hold one snapshot that every shard joins), write the cut into the run, and wait until every shard has written its manifest. Needs --shards and --run-id')
            [CompletionResult]::new('--coordinated', '--coordinated', [CompletionResultType]::ParameterName, 'Wait (up to 10 minutes) for the coordinator''s cut before extracting this shard')
            [CompletionResult]::new('--no-header', '--no-header', [CompletionResultType]::ParameterName, 'CSV files have no header line (columns are named column_1, column_2, …). Without --header or --no-header, whether line 1 is a header is detected from a sample')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'CSV files have a header line, even if its fields look like data')
            [CompletionResult]::new('--quoted-empty-is-null', '--quoted-empty-is-null', [CompletionResultType]::ParameterName, 'Reading CSV: a quoted empty field (`""`) is NULL too, like an unquoted one. By default a `""` in a text column is an empty string, as PostgreSQL, DuckDB and Spark write it')
            [CompletionResult]::new('--keep-stage', '--keep-stage', [CompletionResultType]::ParameterName, 'Keep the staged run after a successful load')
            [CompletionResult]::new('--encrypt-stage', '--encrypt-stage', [CompletionResultType]::ParameterName, 'Encrypt every staged part on this machine before it leaves (age, to this machine''s identity unless --recipient is given)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Validate and open the source, write nothing')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print what the extract would do and the endpoints it needs; contact nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;load' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Destination format: csv, parquet, json (JSON Lines) or ipc (Arrow)')
            [CompletionResult]::new('--source-format', '--source-format', [CompletionResultType]::ParameterName, 'Source format, when the extension does not tell it')
            [CompletionResult]::new('--schema', '--schema', [CompletionResultType]::ParameterName, 'Column types of a CSV or JSON source, e.g. `id:int64,amount:decimal(18,4),at:timestamptz`. Without it types are inferred from a sample')
            [CompletionResult]::new('--infer-rows', '--infer-rows', [CompletionResultType]::ParameterName, 'Rows sampled to infer a CSV or JSON schema')
            [CompletionResult]::new('--delimiter', '--delimiter', [CompletionResultType]::ParameterName, 'CSV field delimiter (one character, or `tab`); detected from a sample among `,` `;` tab `|` when not given (tab for `.tsv`)')
            [CompletionResult]::new('--quote', '--quote', [CompletionResultType]::ParameterName, 'CSV quote character')
            [CompletionResult]::new('--escape', '--escape', [CompletionResultType]::ParameterName, 'CSV escape character (default: quotes are doubled)')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Text that stands for NULL in CSV (default: empty field)')
            [CompletionResult]::new('--max-rows-per-file', '--max-rows-per-file', [CompletionResultType]::ParameterName, 'Split the output into files of at most N rows in the destination directory, with a manifest written last')
            [CompletionResult]::new('--row-group-size', '--row-group-size', [CompletionResultType]::ParameterName, 'Parquet row-group size in rows')
            [CompletionResult]::new('--compression', '--compression', [CompletionResultType]::ParameterName, 'Compression. Parquet: the page codec, zstd (default), zstd(LEVEL), snappy, lz4, gzip, none. CSV and JSON Lines: the file''s, gzip, gzip(LEVEL), zstd, zstd(LEVEL), bzip2, xz, none (a name ending in .gz, .zst, .bz2 or .xz also selects it)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'How the destination is updated: replace (files, default), append, merge, incremental (databases)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Key column of `--mode merge` (repeat for a composite key)')
            [CompletionResult]::new('--cursor', '--cursor', [CompletionResultType]::ParameterName, 'Cursor column of `--mode incremental`: only rows with a greater value than the destination''s maximum are copied')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'A query to read instead of a table, for a database source (`postgres://user@host/db`, `mssql://user@host/db`)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Name of the copy in reports')
            [CompletionResult]::new('--stage', '--stage', [CompletionResultType]::ParameterName, 'Copy through a stage: extract the source into a run under this location (s3://, az://, gs://, a local directory), load the destination from it, then remove the run')
            [CompletionResult]::new('--recipient', '--recipient', [CompletionResultType]::ParameterName, 'Who may decrypt the staged parts: an `age1…` recipient, as printed by `convoy secrets identity` on that machine (repeatable; implies --encrypt-stage)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--no-header', '--no-header', [CompletionResultType]::ParameterName, 'CSV files have no header line (columns are named column_1, column_2, …). Without --header or --no-header, whether line 1 is a header is detected from a sample')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'CSV files have a header line, even if its fields look like data')
            [CompletionResult]::new('--quoted-empty-is-null', '--quoted-empty-is-null', [CompletionResultType]::ParameterName, 'Reading CSV: a quoted empty field (`""`) is NULL too, like an unquoted one. By default a `""` in a text column is an empty string, as PostgreSQL, DuckDB and Spark write it')
            [CompletionResult]::new('--keep-stage', '--keep-stage', [CompletionResultType]::ParameterName, 'Keep the staged run after a successful load')
            [CompletionResult]::new('--encrypt-stage', '--encrypt-stage', [CompletionResultType]::ParameterName, 'Encrypt every staged part on this machine before it leaves (age, to this machine''s identity unless --recipient is given)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Load a run that was loaded before (its rows are added again)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Check the run and open the destination, write nothing')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Print what the load would do and the endpoints it needs; contact nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;stage' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The runs of a stage: state (complete, incomplete, loaded), rows, bytes, age')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove one run (STAGE/RUN-ID/), or with --older-than every run of a stage older than that')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'convoy;stage;list' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;stage;rm' {
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Remove every run whose newest object is older than this (e.g. 7d, 12h, 30m)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--incomplete', '--incomplete', [CompletionResultType]::ParameterName, 'Only incomplete runs (abandoned extracts)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;stage;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The runs of a stage: state (complete, incomplete, loaded), rows, bytes, age')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove one run (STAGE/RUN-ID/), or with --older-than every run of a stage older than that')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'convoy;stage;help;list' {
            break
        }
        'convoy;stage;help;rm' {
            break
        }
        'convoy;stage;help;help' {
            break
        }
        'convoy;secrets' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret in the vault. The value is read from the terminal without echo, or from stdin when piped (one trailing newline removed); never from the command line')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the stored secrets: name, created, last rotated, age. Never values')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove a secret from the vault')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Re-encrypt the whole vault under a new key: a new random machine key, or a new salt for the same passphrase. Secret values and this machine''s identity are kept')
            [CompletionResult]::new('identity', 'identity', [CompletionResultType]::ParameterValue, 'Print this machine''s public key, for `convoy secrets seal --to` on another machine')
            [CompletionResult]::new('seal', 'seal', [CompletionResultType]::ParameterValue, 'Seal a value so that only the machine whose public key is given can read it. The value is read like `set`; the output, `${sealed:…}`, can go in a spec file or a CI variable')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'convoy;secrets;set' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--passphrase', '--passphrase', [CompletionResultType]::ParameterName, 'Create the vault protected by a passphrase instead of a machine key file. The passphrase comes from CONVOY_VAULT_PASSPHRASE or is asked twice on the terminal. Only when the vault does not exist yet (setting CONVOY_VAULT_PASSPHRASE when the vault is created has the same effect); use `rotate --passphrase` to switch later')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;secrets;list' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;secrets;rm' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;secrets;rotate' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--passphrase', '--passphrase', [CompletionResultType]::ParameterName, 'Switch to (or change) a passphrase: read from CONVOY_VAULT_NEW_PASSPHRASE or asked twice on the terminal')
            [CompletionResult]::new('--machine-key', '--machine-key', [CompletionResultType]::ParameterName, 'Switch to a random machine key file (machine.key next to the vault)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;secrets;identity' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;secrets;seal' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The receiving machine''s public key, as printed there by `convoy secrets identity`')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;secrets;help' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret in the vault. The value is read from the terminal without echo, or from stdin when piped (one trailing newline removed); never from the command line')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the stored secrets: name, created, last rotated, age. Never values')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove a secret from the vault')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Re-encrypt the whole vault under a new key: a new random machine key, or a new salt for the same passphrase. Secret values and this machine''s identity are kept')
            [CompletionResult]::new('identity', 'identity', [CompletionResultType]::ParameterValue, 'Print this machine''s public key, for `convoy secrets seal --to` on another machine')
            [CompletionResult]::new('seal', 'seal', [CompletionResultType]::ParameterValue, 'Seal a value so that only the machine whose public key is given can read it. The value is read like `set`; the output, `${sealed:…}`, can go in a spec file or a CI variable')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'convoy;secrets;help;set' {
            break
        }
        'convoy;secrets;help;list' {
            break
        }
        'convoy;secrets;help;rm' {
            break
        }
        'convoy;secrets;help;rotate' {
            break
        }
        'convoy;secrets;help;identity' {
            break
        }
        'convoy;secrets;help;seal' {
            break
        }
        'convoy;secrets;help;help' {
            break
        }
        'convoy;completions' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress on stderr: bars on a terminal with `auto`; `always` also prints plain periodic lines when stderr is not a terminal')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'Vault file (default: $XDG_CONFIG_HOME/convoy/vault, else ~/.config/convoy/vault)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON summary document on stdout instead of the table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is being done (repeat for more)')
            [CompletionResult]::new('--allow-insecure', '--allow-insecure', [CompletionResultType]::ParameterName, 'Permit insecure settings a spec asks for (TLS off, plain HTTP). Each use is warned about and listed in the summary. Without this flag they are refused (exit 3)')
            [CompletionResult]::new('--allow-cross-region', '--allow-cross-region', [CompletionResultType]::ParameterName, 'Permit copies whose source, staging and sink regions differ')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'convoy;help' {
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy one source to one destination')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run the copies of a spec file (all, or those named with --copy)')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what a spec (or SRC DST) would do, without doing it')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check every endpoint of a spec (or SRC DST): DNS, TCP, TLS, login and access rights. Writes nothing. Exit 3 when an endpoint fails a security check, 1 when one is unreachable or refuses access')
            [CompletionResult]::new('extract', 'extract', [CompletionResultType]::ParameterValue, 'Extract a source into a new run on a stage (the first half of a staged copy); prints where the run is')
            [CompletionResult]::new('load', 'load', [CompletionResultType]::ParameterValue, 'Load a complete stage run into a destination (the second half of a staged copy), verifying every part; the run is marked loaded')
            [CompletionResult]::new('stage', 'stage', [CompletionResultType]::ParameterValue, 'List the runs of a stage, or remove runs')
            [CompletionResult]::new('secrets', 'secrets', [CompletionResultType]::ParameterValue, 'Manage the encrypted secret vault and sealed values')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions for bash, zsh, fish or powershell')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'convoy;help;copy' {
            break
        }
        'convoy;help;run' {
            break
        }
        'convoy;help;plan' {
            break
        }
        'convoy;help;check' {
            break
        }
        'convoy;help;extract' {
            break
        }
        'convoy;help;load' {
            break
        }
        'convoy;help;stage' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The runs of a stage: state (complete, incomplete, loaded), rows, bytes, age')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove one run (STAGE/RUN-ID/), or with --older-than every run of a stage older than that')
            break
        }
        'convoy;help;stage;list' {
            break
        }
        'convoy;help;stage;rm' {
            break
        }
        'convoy;help;secrets' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Store a secret in the vault. The value is read from the terminal without echo, or from stdin when piped (one trailing newline removed); never from the command line')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the stored secrets: name, created, last rotated, age. Never values')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Remove a secret from the vault')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Re-encrypt the whole vault under a new key: a new random machine key, or a new salt for the same passphrase. Secret values and this machine''s identity are kept')
            [CompletionResult]::new('identity', 'identity', [CompletionResultType]::ParameterValue, 'Print this machine''s public key, for `convoy secrets seal --to` on another machine')
            [CompletionResult]::new('seal', 'seal', [CompletionResultType]::ParameterValue, 'Seal a value so that only the machine whose public key is given can read it. The value is read like `set`; the output, `${sealed:…}`, can go in a spec file or a CI variable')
            break
        }
        'convoy;help;secrets;set' {
            break
        }
        'convoy;help;secrets;list' {
            break
        }
        'convoy;help;secrets;rm' {
            break
        }
        'convoy;help;secrets;rotate' {
            break
        }
        'convoy;help;secrets;identity' {
            break
        }
        'convoy;help;secrets;seal' {
            break
        }
        'convoy;help;completions' {
            break
        }
        'convoy;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
