using System.Runtime.CompilerServices;

// StaticShapes and Broadcasting are internal; their tests ask them directly what they proved.
[assembly: InternalsVisibleTo("OnnxLora.Autodiff.Tests")]
