using System.Runtime.CompilerServices;

// ShapeInference, Broadcasting and OpRegistry are internal; their tests ask them directly what they proved.
[assembly: InternalsVisibleTo("OnnxLora.Autodiff.Tests")]
