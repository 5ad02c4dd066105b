// The syntax tree of a parsed Jinja template: statements (Node) and expressions (Expr).
// Data only; JinjaParser builds it and JinjaInterpreter walks it.
namespace OnnxLora.Models.Chat.Jinja;

internal abstract record Node(int Line);

internal sealed record TextNode(int Line, string Text) : Node(Line);

internal sealed record OutputNode(int Line, Expr Value) : Node(Line);

internal sealed record IfNode(int Line, Expr Test, List<Node> Body, List<Node> Else) : Node(Line);

internal sealed record ForNode(int Line, List<string> Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node> Else) : Node(Line);

/// <summary>{% set a = x %}, {% set a, b = x %} or {% set ns.attr = x %} (Attribute non-null).</summary>
internal sealed record SetNode(int Line, List<string> Targets, string? Attribute, Expr Value) : Node(Line);

internal sealed record SetBlockNode(int Line, string Target, List<Node> Body) : Node(Line);

internal sealed record MacroNode(int Line, string Name, List<(string Name, Expr? Default)> Parameters, List<Node> Body) : Node(Line);

/// <summary>{% call m(args) %}body{% endcall %}: m runs with caller() rendering body.</summary>
internal sealed record CallBlockNode(int Line, CallExpr Call, List<(string Name, Expr? Default)> Parameters, List<Node> Body) : Node(Line);

internal sealed record GenerationNode(int Line, List<Node> Body) : Node(Line);

internal sealed record FilterBlockNode(int Line, string Filter, List<Expr> Args, List<Node> Body) : Node(Line);

internal sealed record LoopControlNode(int Line, bool IsBreak) : Node(Line);

internal abstract record Expr(int Line);

internal sealed record LiteralExpr(int Line, object? Value) : Expr(Line);

internal sealed record NameExpr(int Line, string Name) : Expr(Line);

internal sealed record ListExpr(int Line, List<Expr> Items) : Expr(Line);

internal sealed record DictExpr(int Line, List<(Expr Key, Expr Value)> Items) : Expr(Line);

internal sealed record AttributeExpr(int Line, Expr Target, string Name) : Expr(Line);

internal sealed record IndexExpr(int Line, Expr Target, Expr Index) : Expr(Line);

internal sealed record SliceExpr(int Line, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Line);

internal sealed record CallExpr(int Line, Expr Callee, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr(Line);

internal sealed record FilterExpr(int Line, Expr Value, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr(Line);

internal sealed record TestExpr(int Line, Expr Value, string Name, List<Expr> Args, bool Negated) : Expr(Line);

internal sealed record UnaryExpr(int Line, string Op, Expr Operand) : Expr(Line);

internal sealed record BinaryExpr(int Line, string Op, Expr Left, Expr Right) : Expr(Line);

internal sealed record CompareExpr(int Line, Expr First, List<(string Op, Expr Operand)> Rest) : Expr(Line);

internal sealed record ConditionalExpr(int Line, Expr Test, Expr Then, Expr? Else) : Expr(Line);
