// Recursive-descent parser from JinjaLexer tokens to the JinjaNodes tree, with Jinja2's operator precedence
// (conditional < or < and < not < comparisons/in/is < + - < ~ < * / // % < ** < unary < postfix/filters).
// It covers the statements chat templates use: if, for (with else and a filter), set (plain, tuple, namespace
// attribute, block), macro, filter blocks, generation, break/continue. Anything else is an error with its line.
namespace OnnxLora.Models.Chat.Jinja;

internal sealed class JinjaParser
{
    private static readonly HashSet<string> s_keywords = ["and", "or", "not", "in", "is", "if", "else", "elif"];

    private readonly List<Token> _tokens;
    private int _pos;

    private JinjaParser(List<Token> tokens) => _tokens = tokens;

    public static List<Node> Parse(string source)
    {
        // Jinja2's keep_trailing_newline=False: one newline at the very end of the source is not output.
        source = source.EndsWith("\r\n", StringComparison.Ordinal) ? source[..^2] : source.EndsWith('\n') ? source[..^1] : source;
        var p = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = p.ParseBody([]);
        if (p.Peek.Kind != TokenKind.End)
        {
            throw new JinjaException(p.Peek.Line, $"unexpected '{{% {p.PeekBlockName()} %}}'");
        }
        return body;
    }

    private Token Peek => _tokens[_pos];

    private Token Next() => _tokens[_pos++];

    private string PeekBlockName() =>
        Peek.Kind == TokenKind.BlockStart && _tokens[_pos + 1].Kind == TokenKind.Name ? _tokens[_pos + 1].Value : "";

    // Parses nodes until a block tag whose name is in `stops` (left unconsumed) or the end.
    private List<Node> ParseBody(HashSet<string> stops, string opener = "", int openerLine = 0)
    {
        var nodes = new List<Node>();
        while (Peek.Kind != TokenKind.End)
        {
            Token t = Peek;
            switch (t.Kind)
            {
                case TokenKind.Text:
                    nodes.Add(new TextNode(t.Line, Next().Value));
                    break;
                case TokenKind.VariableStart:
                    Next();
                    nodes.Add(new OutputNode(t.Line, ParseExpression()));
                    Expect(TokenKind.VariableEnd, "}}");
                    break;
                case TokenKind.BlockStart:
                    if (stops.Contains(PeekBlockName()))
                    {
                        return nodes;
                    }
                    Next();
                    nodes.Add(ParseStatement());
                    break;
                default:
                    throw new JinjaException(t.Line, $"unexpected token '{t.Value}'");
            }
        }
        if (stops.Count > 0)
        {
            throw new JinjaException(Peek.Line,
                $"missing '{{% {string.Join(" or ", stops)} %}}' before the end of the template ('{{% {opener} %}}' on line {openerLine} is not closed)");
        }
        return nodes;
    }

    private Node ParseStatement()
    {
        Token name = Expect(TokenKind.Name, "a statement name");
        switch (name.Value)
        {
            case "if":
                return ParseIf(name.Line);
            case "for":
                return ParseFor(name.Line);
            case "set":
                return ParseSet(name.Line);
            case "macro":
                return ParseMacro(name.Line);
            case "generation":
            {
                EndTag();
                var body = ParseBody(["endgeneration"], "generation", name.Line);
                CloseBlock("endgeneration");
                return new GenerationNode(name.Line, body);
            }
            case "filter":
            {
                string filter = Expect(TokenKind.Name, "a filter name").Value;
                var (args, _) = IsOp("(") ? ParseCallArgs() : ([], []);
                EndTag();
                var body = ParseBody(["endfilter"], "filter", name.Line);
                CloseBlock("endfilter");
                return new FilterBlockNode(name.Line, filter, args, body);
            }
            case "call":
            {
                var parameters = new List<(string, Expr?)>();
                if (IsOp("("))
                {
                    parameters = ParseParameters();
                }
                Expr call = ParseExpression();
                if (call is not CallExpr ce)
                {
                    throw new JinjaException(name.Line, "'call' needs a macro call, e.g. {% call m(x) %}");
                }
                EndTag();
                var body = ParseBody(["endcall"], "call", name.Line);
                CloseBlock("endcall");
                return new CallBlockNode(name.Line, ce, parameters, body);
            }
            case "break" or "continue":
                EndTag();
                return new LoopControlNode(name.Line, name.Value == "break");
            default:
                throw new JinjaException(name.Line, $"unknown statement '{name.Value}'");
        }
    }

    private IfNode ParseIf(int line)
    {
        Expr test = ParseExpression();
        EndTag();
        var body = ParseBody(["elif", "else", "endif"], "if", line);
        Next(); // {%
        string which = Next().Value;
        List<Node> elseBody = [];
        if (which == "elif")
        {
            elseBody = [ParseIf(Peek.Line)];
            return new IfNode(line, test, body, elseBody);
        }
        if (which == "else")
        {
            EndTag();
            elseBody = ParseBody(["endif"], "if", line);
            CloseBlock("endif");
        }
        else
        {
            EndTag();
        }
        return new IfNode(line, test, body, elseBody);
    }

    private ForNode ParseFor(int line)
    {
        bool paren = AcceptOp("(");
        var targets = new List<string> { Expect(TokenKind.Name, "a loop variable").Value };
        while (AcceptOp(","))
        {
            targets.Add(Expect(TokenKind.Name, "a loop variable").Value);
        }
        if (paren)
        {
            ExpectOp(")");
        }
        ExpectName("in");
        Expr iterable = ParseOr(); // "x in items if cond": the if is the loop filter, not a conditional expression
        Expr? filter = null;
        if (AcceptName("if"))
        {
            filter = ParseOr();
        }
        AcceptName("recursive");
        EndTag();
        var body = ParseBody(["else", "endfor"], "for", line);
        List<Node> elseBody = [];
        if (PeekBlockName() == "else")
        {
            Next();
            Next();
            EndTag();
            elseBody = ParseBody(["endfor"], "for", line);
        }
        CloseBlock("endfor");
        return new ForNode(line, targets, iterable, filter, body, elseBody);
    }

    private Node ParseSet(int line)
    {
        if (AcceptOp("("))
        {
            // {% set (a, b) = ... %}
            var names = new List<string> { Expect(TokenKind.Name, "a variable name").Value };
            while (AcceptOp(","))
            {
                names.Add(Expect(TokenKind.Name, "a variable name").Value);
            }
            ExpectOp(")");
            ExpectOp("=");
            Expr tuple = ParseTupleOrExpression();
            EndTag();
            return new SetNode(line, names, null, tuple);
        }
        string first = Expect(TokenKind.Name, "a variable name").Value;
        if (AcceptOp("."))
        {
            string attr = Expect(TokenKind.Name, "an attribute name").Value;
            ExpectOp("=");
            Expr v = ParseExpression();
            EndTag();
            return new SetNode(line, [first], attr, v);
        }
        var targets = new List<string> { first };
        while (AcceptOp(","))
        {
            targets.Add(Expect(TokenKind.Name, "a variable name").Value);
        }
        if (AcceptOp("="))
        {
            Expr v = ParseTupleOrExpression();
            EndTag();
            return new SetNode(line, targets, null, v);
        }
        EndTag();
        var body = ParseBody(["endset"], "set", line);
        CloseBlock("endset");
        return new SetBlockNode(line, first, body);
    }

    private MacroNode ParseMacro(int line)
    {
        string name = Expect(TokenKind.Name, "a macro name").Value;
        var parameters = ParseParameters();
        EndTag();
        var body = ParseBody(["endmacro"], "macro", line);
        CloseBlock("endmacro");
        return new MacroNode(line, name, parameters, body);
    }

    private List<(string, Expr?)> ParseParameters()
    {
        ExpectOp("(");
        var parameters = new List<(string, Expr?)>();
        while (!AcceptOp(")"))
        {
            string p = Expect(TokenKind.Name, "a parameter name").Value;
            Expr? def = AcceptOp("=") ? ParseExpression() : null;
            parameters.Add((p, def));
            if (!IsOp(")"))
            {
                ExpectOp(",");
            }
        }
        return parameters;
    }

    private void CloseBlock(string name)
    {
        Expect(TokenKind.BlockStart, "{%");
        ExpectName(name);
        EndTag();
    }

    private void EndTag() => Expect(TokenKind.BlockEnd, "%}");

    // ---- expressions ----

    // "1, 2" without brackets is a tuple where Jinja allows one (set and for targets' values).
    private Expr ParseTupleOrExpression()
    {
        Expr first = ParseExpression();
        if (!IsOp(","))
        {
            return first;
        }
        var items = new List<Expr> { first };
        while (AcceptOp(","))
        {
            items.Add(ParseExpression());
        }
        return new ListExpr(first.Line, items);
    }

    public Expr ParseExpression()
    {
        Expr e = ParseOr();
        while (IsName("if"))
        {
            int line = Next().Line;
            Expr test = ParseOr();
            Expr? otherwise = AcceptName("else") ? ParseOr() : null;
            e = new ConditionalExpr(line, test, e, otherwise);
        }
        return e;
    }

    private Expr ParseOr()
    {
        Expr e = ParseAnd();
        while (IsName("or"))
        {
            int line = Next().Line;
            e = new BinaryExpr(line, "or", e, ParseAnd());
        }
        return e;
    }

    private Expr ParseAnd()
    {
        Expr e = ParseNot();
        while (IsName("and"))
        {
            int line = Next().Line;
            e = new BinaryExpr(line, "and", e, ParseNot());
        }
        return e;
    }

    private Expr ParseNot()
    {
        if (IsName("not"))
        {
            int line = Next().Line;
            return new UnaryExpr(line, "not", ParseNot());
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        Expr first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Peek.Kind == TokenKind.Operator && Peek.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
            {
                string op = Next().Value;
                rest.Add((op, ParseMath1()));
            }
            else if (IsName("in"))
            {
                Next();
                rest.Add(("in", ParseMath1()));
            }
            else if (IsName("not") && _tokens[_pos + 1] is { Kind: TokenKind.Name, Value: "in" })
            {
                _pos += 2;
                rest.Add(("notin", ParseMath1()));
            }
            else
            {
                break;
            }
        }
        return rest.Count == 0 ? first : new CompareExpr(first.Line, first, rest);
    }

    private Expr ParseMath1()
    {
        Expr e = ParseConcat();
        while (IsOp("+") || IsOp("-"))
        {
            Token op = Next();
            e = new BinaryExpr(op.Line, op.Value, e, ParseConcat());
        }
        return e;
    }

    private Expr ParseConcat()
    {
        Expr e = ParseMath2();
        while (IsOp("~"))
        {
            Token op = Next();
            e = new BinaryExpr(op.Line, "~", e, ParseMath2());
        }
        return e;
    }

    private Expr ParseMath2()
    {
        Expr e = ParsePow();
        while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%"))
        {
            Token op = Next();
            e = new BinaryExpr(op.Line, op.Value, e, ParsePow());
        }
        return e;
    }

    private Expr ParsePow()
    {
        Expr e = ParseUnary();
        while (IsOp("**"))
        {
            Token op = Next();
            e = new BinaryExpr(op.Line, "**", e, ParseUnary());
        }
        return e;
    }

    private Expr ParseUnary()
    {
        if (IsOp("-") || IsOp("+"))
        {
            Token op = Next();
            return ParseFilters(new UnaryExpr(op.Line, op.Value, ParseUnaryNoFilter()));
        }
        return ParseFilters(ParsePostfix(ParsePrimary()));
    }

    private Expr ParseUnaryNoFilter()
    {
        if (IsOp("-") || IsOp("+"))
        {
            Token op = Next();
            return new UnaryExpr(op.Line, op.Value, ParseUnaryNoFilter());
        }
        return ParsePostfix(ParsePrimary());
    }

    private Expr ParseFilters(Expr e)
    {
        while (true)
        {
            if (IsOp("|"))
            {
                int line = Next().Line;
                string name = ParseDottedName();
                var (args, kwargs) = IsOp("(") ? ParseCallArgs() : ([], []);
                e = new FilterExpr(line, e, name, args, kwargs);
            }
            else if (IsName("is"))
            {
                int line = Next().Line;
                bool negated = AcceptName("not");
                string name = Peek.Kind == TokenKind.Name ? Next().Value
                    : Peek.Kind == TokenKind.Operator && Peek.Value is "==" or "!=" or "<" or ">" or "<=" or ">=" ? Next().Value
                    : throw new JinjaException(Peek.Line, "expected a test name after 'is'");
                List<Expr> args = [];
                if (IsOp("("))
                {
                    args = ParseCallArgs().Args;
                }
                else if (StartsPrimary())
                {
                    args = [ParsePostfix(ParsePrimary())];
                }
                e = new TestExpr(line, e, name, args, negated);
            }
            else
            {
                return e;
            }
        }
    }

    private bool StartsPrimary() => Peek.Kind switch
    {
        TokenKind.String or TokenKind.Integer or TokenKind.Float => true,
        TokenKind.Name => !s_keywords.Contains(Peek.Value),
        TokenKind.Operator => Peek.Value is "[" or "{",
        _ => false,
    };

    private string ParseDottedName()
    {
        string name = Expect(TokenKind.Name, "a filter name").Value;
        while (IsOp(".") && _tokens[_pos + 1].Kind == TokenKind.Name)
        {
            Next();
            name += "." + Next().Value;
        }
        return name;
    }

    private Expr ParsePostfix(Expr e)
    {
        while (true)
        {
            if (IsOp("."))
            {
                int line = Next().Line;
                Token attr = Next();
                if (attr.Kind is not (TokenKind.Name or TokenKind.Integer))
                {
                    throw new JinjaException(line, "expected an attribute name after '.'");
                }
                e = attr.Kind == TokenKind.Integer
                    ? new IndexExpr(line, e, new LiteralExpr(line, long.Parse(attr.Value, System.Globalization.CultureInfo.InvariantCulture)))
                    : new AttributeExpr(line, e, attr.Value);
            }
            else if (IsOp("["))
            {
                int line = Next().Line;
                e = ParseSubscript(line, e);
            }
            else if (IsOp("("))
            {
                int line = Peek.Line;
                var (args, kwargs) = ParseCallArgs();
                e = new CallExpr(line, e, args, kwargs);
            }
            else
            {
                return e;
            }
        }
    }

    private Expr ParseSubscript(int line, Expr target)
    {
        Expr? start = IsOp(":") ? null : ParseExpression();
        if (AcceptOp("]"))
        {
            return new IndexExpr(line, target, start!);
        }
        ExpectOp(":");
        Expr? stop = IsOp(":") || IsOp("]") ? null : ParseExpression();
        Expr? step = null;
        if (AcceptOp(":"))
        {
            step = IsOp("]") ? null : ParseExpression();
        }
        ExpectOp("]");
        return new SliceExpr(line, target, start, stop, step);
    }

    private (List<Expr> Args, List<(string, Expr)> Kwargs) ParseCallArgs()
    {
        ExpectOp("(");
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!AcceptOp(")"))
        {
            if (AcceptOp("**"))
            {
                kwargs.Add(("**", ParseExpression())); // a mapping spread into keyword arguments
            }
            else if (AcceptOp("*"))
            {
                args.Add(new UnaryExpr(Peek.Line, "*", ParseExpression())); // a sequence spread into arguments
            }
            else if (Peek.Kind == TokenKind.Name && _tokens[_pos + 1] is { Kind: TokenKind.Operator, Value: "=" })
            {
                string name = Next().Value;
                Next();
                kwargs.Add((name, ParseExpression()));
            }
            else
            {
                args.Add(ParseExpression());
            }
            if (!IsOp(")"))
            {
                ExpectOp(",");
            }
        }
        return (args, kwargs);
    }

    private Expr ParsePrimary()
    {
        Token t = Next();
        switch (t.Kind)
        {
            case TokenKind.String:
            {
                string s = t.Value;
                while (Peek.Kind == TokenKind.String)
                {
                    s += Next().Value; // adjacent literals concatenate, as in Python
                }
                return new LiteralExpr(t.Line, s);
            }
            case TokenKind.Integer:
                return new LiteralExpr(t.Line, long.Parse(t.Value, System.Globalization.CultureInfo.InvariantCulture));
            case TokenKind.Float:
                return new LiteralExpr(t.Line, double.Parse(t.Value, System.Globalization.CultureInfo.InvariantCulture));
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new LiteralExpr(t.Line, true),
                    "false" or "False" => new LiteralExpr(t.Line, false),
                    "none" or "None" => new LiteralExpr(t.Line, null),
                    _ => new NameExpr(t.Line, t.Value),
                };
            case TokenKind.Operator when t.Value == "(":
            {
                if (AcceptOp(")"))
                {
                    return new ListExpr(t.Line, []);
                }
                Expr e = ParseExpression();
                if (!IsOp(","))
                {
                    ExpectOp(")");
                    return e;
                }
                var items = new List<Expr> { e };
                while (AcceptOp(","))
                {
                    if (IsOp(")"))
                    {
                        break;
                    }
                    items.Add(ParseExpression());
                }
                ExpectOp(")");
                return new ListExpr(t.Line, items); // tuples behave as lists here
            }
            case TokenKind.Operator when t.Value == "[":
            {
                var items = new List<Expr>();
                while (!AcceptOp("]"))
                {
                    items.Add(ParseExpression());
                    if (!IsOp("]"))
                    {
                        ExpectOp(",");
                    }
                }
                return new ListExpr(t.Line, items);
            }
            case TokenKind.Operator when t.Value == "{":
            {
                var items = new List<(Expr, Expr)>();
                while (!AcceptOp("}"))
                {
                    Expr k = ParseExpression();
                    ExpectOp(":");
                    items.Add((k, ParseExpression()));
                    if (!IsOp("}"))
                    {
                        ExpectOp(",");
                    }
                }
                return new DictExpr(t.Line, items);
            }
            default:
                throw new JinjaException(t.Line, $"unexpected {Describe(t)} in an expression");
        }
    }

    private static string Describe(Token t) => t.Kind switch
    {
        TokenKind.VariableEnd => "'}}'",
        TokenKind.BlockEnd => "'%}'",
        TokenKind.End => "end of template",
        _ => $"'{t.Value}'",
    };

    private bool IsOp(string op) => Peek.Kind == TokenKind.Operator && Peek.Value == op;

    private bool IsName(string name) => Peek.Kind == TokenKind.Name && Peek.Value == name;

    private bool AcceptOp(string op)
    {
        if (!IsOp(op))
        {
            return false;
        }
        _pos++;
        return true;
    }

    private bool AcceptName(string name)
    {
        if (!IsName(name))
        {
            return false;
        }
        _pos++;
        return true;
    }

    private void ExpectOp(string op)
    {
        if (!AcceptOp(op))
        {
            throw new JinjaException(Peek.Line, $"expected '{op}', got {Describe(Peek)}");
        }
    }

    private void ExpectName(string name)
    {
        if (!AcceptName(name))
        {
            throw new JinjaException(Peek.Line, $"expected '{name}', got {Describe(Peek)}");
        }
    }

    private Token Expect(TokenKind kind, string what)
    {
        if (Peek.Kind != kind)
        {
            throw new JinjaException(Peek.Line, $"expected {what}, got {Describe(Peek)}");
        }
        return Next();
    }
}
