// One piece of a rendered conversation. Trainable pieces (assistant content and its end token) carry loss;
// everything else (role headers, system and user turns) is masked with -100.
namespace OnnxLora.Training.Data;

public sealed record ChatSegment(string Text, ChatSegmentKind Kind, bool Trainable);
