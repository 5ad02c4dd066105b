using System.Runtime.CompilerServices;

// FlatLayout's segment size is a parameter only for its tests (multi-segment layouts without GiB tensors).
[assembly: InternalsVisibleTo("OnnxLora.Training.Tests")]
