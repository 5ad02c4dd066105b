// Whether a tokenized example is trained on, or why it is dropped (and counted in the run summary).
namespace OnnxLora.Training.Data;

public enum ExampleStatus
{
    /// <summary>Trained on.</summary>
    Kept,

    /// <summary>Nothing to learn: blank text, blank completion, or only blank assistant turns.</summary>
    Empty,

    /// <summary>No token carries loss (e.g. the prompt alone fills max_seq_len).</summary>
    NoCountedToken,
}
