using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace Sam2Interactive.Tests.Api;

/// <summary>Log EventIds are an interface (operators alert on them): every event is recorded in docs/logging.md, once.</summary>
[TestFixture]
[Category("Fast")]
public sealed partial class LogEventsTests
{
    private static readonly string[] s_assemblies = ["sam2i", "Sam2Interactive.Encoder", "Sam2Interactive.Decoder", "Sam2Interactive.Cache"];

    private static List<(int Id, string Name, LogLevel Level, string Assembly)> Defined() =>
        [.. s_assemblies.Select(Assembly.Load)
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .Select(x => (x.Attribute!.EventId, x.Method.Name, x.Attribute.Level, x.Method.DeclaringType!.Assembly.GetName().Name!))];

    [Test]
    public void Defined_EveryEventInItsProjectsRangeAndUnique()
    {
        var events = Defined();
        var ranges = new Dictionary<string, int> { ["sam2i"] = 1000, ["Sam2Interactive.Encoder"] = 2000, ["Sam2Interactive.Decoder"] = 3000, ["Sam2Interactive.Cache"] = 4000 };
        using (Assert.EnterMultipleScope())
        {
            Assert.That(events, Has.Count.GreaterThanOrEqualTo(20));
            Assert.That(events.Select(e => e.Id), Is.Unique);
            foreach (var e in events)
                Assert.That(e.Id, Is.InRange(ranges[e.Assembly] + 1, ranges[e.Assembly] + 999), $"{e.Name} in {e.Assembly}");
        }
    }

    [Test]
    public void Documented_TableListsEveryEventWithItsIdNameAndLevel()
    {
        var doc = File.ReadAllText(Path.Combine(Sam2SettingsTests.RepositoryRoot(), "docs", "logging.md"));
        var rows = Row().Matches(doc).Select(m => (Id: int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Name: m.Groups[2].Value, Level: m.Groups[3].Value)).ToList();
        var defined = Defined().Select(e => (e.Id, e.Name, Level: e.Level.ToString())).ToList();
        Assert.That(rows, Is.EquivalentTo(defined));
    }

    [GeneratedRegex(@"^\| (\d{4}) \| (\w+) \| (\w+) \|", RegexOptions.Multiline)]
    private static partial Regex Row();
}
