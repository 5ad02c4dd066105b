using System.Runtime.CompilerServices;

// TrainReporter's line throttling is tested with a fake clock.
[assembly: InternalsVisibleTo("OnnxLora.Cli.Tests")]
