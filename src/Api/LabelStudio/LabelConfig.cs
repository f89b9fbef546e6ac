using System.Collections.Concurrent;
using System.Xml;
using System.Xml.Linq;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>A labeling control (BrushLabels, KeyPointLabels, RectangleLabels, ...) and its label values in order.</summary>
/// <param name="Tag">The canonical tag name (<see cref="LabelConfigParser.KnownControls"/>).</param>
internal sealed record LabelControl(string Tag, string Name, IReadOnlyList<string> Labels, bool Smart);

/// <summary>
/// One Image tag and every known control that names it in <c>toName</c>, in configuration order. A prompt's mask goes
/// to the mask controls <see cref="MaskKinds"/> selects (a control's name is the response <c>from_name</c>,
/// <see cref="ImageName"/> its <c>to_name</c>).
/// </summary>
internal sealed record ImageTarget(string ImageName, string? ValueVariable, IReadOnlyList<LabelControl> Controls)
{
    /// <summary>The first BrushLabels control on this image, or null.</summary>
    public LabelControl? BrushLabels => First("BrushLabels");

    /// <summary>The first BrushLabels or Brush control on this image, or null.</summary>
    public LabelControl? Brush => First("BrushLabels", "Brush");

    /// <summary>The first PolygonLabels or Polygon control on this image, or null.</summary>
    public LabelControl? Polygon => First("PolygonLabels", "Polygon");

    /// <summary>The first BitmaskLabels (or Bitmask) control on this image, or null.</summary>
    public LabelControl? Bitmask => First("BitmaskLabels", "Bitmask");

    /// <summary>KeyPointLabels/KeyPoint controls with smart="true" (or smartOnly) on this image.</summary>
    public IReadOnlyList<LabelControl> SmartKeyPoints => [.. Controls.Where(c => c.Smart && c.Tag is "KeyPointLabels" or "KeyPoint")];

    /// <summary>RectangleLabels/Rectangle controls with smart="true" (or smartOnly) on this image.</summary>
    public IReadOnlyList<LabelControl> SmartRectangles => [.. Controls.Where(c => c.Smart && c.Tag is "RectangleLabels" or "Rectangle")];

    /// <summary>The first control of one of <paramref name="tags"/>, in configuration order.</summary>
    public LabelControl? First(params string[] tags) => Controls.FirstOrDefault(c => tags.Contains(c.Tag, StringComparer.Ordinal));

    /// <summary>
    /// The label a mask control gives for a prompt label: the same value (ordinal, then case-insensitive), else the
    /// control's first label; the prompt label itself only when the control has no labels at all.
    /// </summary>
    public static string MapLabel(LabelControl control, string? promptLabel)
    {
        var labels = control.Labels;
        if (promptLabel is not null)
        {
            foreach (var l in labels)
            {
                if (string.Equals(l, promptLabel, StringComparison.Ordinal))
                    return l;
            }

            foreach (var l in labels)
            {
                if (string.Equals(l, promptLabel, StringComparison.OrdinalIgnoreCase))
                    return l;
            }
        }

        return labels.Count > 0 ? labels[0] : promptLabel ?? string.Empty;
    }
}

/// <summary>
/// The parts of a label config this backend uses: one <see cref="ImageTarget"/> per Image with a mask control
/// (<see cref="Targets"/>, <see cref="MaskKinds"/>), and every Image with the controls that name it (<see cref="Images"/>).
/// </summary>
internal sealed class LabelConfig(IReadOnlyList<ImageTarget> targets, IReadOnlyList<ImageTarget> images)
{
    /// <summary>Images that take prompts and give masks (they have a mask control); never empty.</summary>
    public IReadOnlyList<ImageTarget> Targets { get; } = targets;

    /// <summary>Every Image tag with the known controls that name it, in configuration order.</summary>
    public IReadOnlyList<ImageTarget> Images { get; } = images;

    /// <summary>The target whose Image is named <paramref name="toName"/>; with a null name, the first target.</summary>
    public ImageTarget? FindTarget(string? toName)
    {
        if (toName is null)
            return Targets[0];
        foreach (var t in Targets)
        {
            if (string.Equals(t.ImageName, toName, StringComparison.Ordinal))
                return t;
        }

        return null;
    }
}

/// <summary>Either a usable <see cref="LabelConfig"/> or, in <see cref="Problem"/>, why masks cannot be returned.</summary>
internal sealed record LabelConfigResult(LabelConfig? Config, string? Problem)
{
    public bool IsUsable => Config is not null;

    /// <summary>Every Image tag with the known controls that name it, also when <see cref="Config"/> is null (a project
    /// with only RectangleLabels has no mask control for the smart tools, but the prompt UI still drives it).</summary>
    public IReadOnlyList<ImageTarget> Images { get; init; } = [];
}

/// <summary>
/// Parses LS label configs (XML, DTDs prohibited) and remembers each distinct config string, so a project's config is
/// parsed once rather than per click. Tag and attribute names are matched case-insensitively, as LS does. Thread-safe.
/// </summary>
internal sealed class LabelConfigParser
{
    private readonly ConcurrentDictionary<string, LabelConfigResult> _cache = new(StringComparer.Ordinal);
    private readonly int _capacity;

    /// <param name="capacity">Distinct configs kept; when exceeded the cache is cleared (configs change rarely).</param>
    public LabelConfigParser(int capacity = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>Number of configs currently cached.</summary>
    public int CachedCount => _cache.Count;

    /// <summary>The parse result for <paramref name="labelConfig"/>, from the cache when seen before.</summary>
    public LabelConfigResult Parse(string? labelConfig)
    {
        if (string.IsNullOrWhiteSpace(labelConfig))
            return new LabelConfigResult(null, "the request has no label_config");
        if (_cache.TryGetValue(labelConfig, out var cached))
            return cached;
        var result = ParseUncached(labelConfig);
        if (_cache.Count >= _capacity)
            _cache.Clear();
        return _cache.GetOrAdd(labelConfig, result);
    }

    /// <summary>Parses without the cache.</summary>
    public static LabelConfigResult ParseUncached(string labelConfig)
    {
        XDocument doc;
        try
        {
            var settings = new XmlReaderSettings
            {
                DtdProcessing = DtdProcessing.Prohibit,
                XmlResolver = null,
                IgnoreComments = true,
                IgnoreProcessingInstructions = true,
            };
            using var reader = XmlReader.Create(new StringReader(labelConfig), settings);
            doc = XDocument.Load(reader);
        }
        catch (XmlException ex)
        {
            return new LabelConfigResult(null, $"label_config is not valid XML ({ex.Message})");
        }

        var images = new List<(string Name, string? Value)>();
        var controls = new List<(LabelControl Control, string[] ToNames)>();
        foreach (var el in doc.Descendants())
        {
            var tag = el.Name.LocalName;
            if (tag.Equals("Image", StringComparison.OrdinalIgnoreCase))
            {
                var name = Attr(el, "name");
                if (name is not null)
                    images.Add((name, Variable(Attr(el, "value") ?? Attr(el, "valueList"))));
                continue;
            }

            if (!IsKnownControl(tag))
                continue;
            var controlName = Attr(el, "name");
            var toName = Attr(el, "toName");
            if (controlName is null || toName is null)
                continue;
            var smart = IsTrue(Attr(el, "smart")) || IsTrue(Attr(el, "smartOnly"));
            var labels = el.Descendants()
                .Where(l => l.Name.LocalName.Equals("Label", StringComparison.OrdinalIgnoreCase))
                .Select(l => Attr(l, "value"))
                .OfType<string>()
                .ToArray();
            var toNames = toName.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            controls.Add((new LabelControl(CanonicalTag(tag), controlName, labels, smart), toNames));
        }

        if (images.Count == 0)
            return new LabelConfigResult(null, "label_config has no <Image> tag; this backend segments images only");

        var allImages = images.Select(i => new ImageTarget(i.Name, i.Value,
            [.. controls.Where(c => c.ToNames.Contains(i.Name, StringComparer.Ordinal)).Select(c => c.Control)])).ToList();
        var maskTags = MaskKinds.All.SelectMany(MaskKinds.Tags).ToHashSet(StringComparer.Ordinal);
        var masks = controls.Where(c => maskTags.Contains(c.Control.Tag)).ToList();
        if (masks.Count == 0)
        {
            return new LabelConfigResult(null,
                $"label_config has no mask control ({MaskKinds.TagList()}); add <BrushLabels name=\"...\" toName=\"{images[0].Name}\"> " +
                $"(or <PolygonLabels name=\"...\" toName=\"{images[0].Name}\"> for polygons) with the labels masks should get")
            { Images = allImages };
        }

        var targets = allImages.Where(MaskKinds.HasAny).ToList();
        if (targets.Count == 0)
        {
            return new LabelConfigResult(null,
                $"the <{masks[0].Control.Tag}> control '{masks[0].Control.Name}' has toName=\"{string.Join(',', masks[0].ToNames)}\", " +
                $"which names no <Image> (images: {string.Join(", ", images.Select(i => i.Name))})")
            { Images = allImages };
        }

        return new LabelConfigResult(new LabelConfig(targets, allImages), null) { Images = allImages };
    }

    /// <summary>The control tags this parser records, canonical spelling.</summary>
    public static IReadOnlyList<string> KnownControls => s_controls;

    private static readonly string[] s_controls =
    [
        "BrushLabels", "Brush", "PolygonLabels", "Polygon", "BitmaskLabels", "Bitmask", "KeyPointLabels", "KeyPoint", "RectangleLabels", "Rectangle",
        "VectorLabels", "Vector", "EllipseLabels", "Ellipse",
    ];

    private static bool IsKnownControl(string tag) => s_controls.Any(c => c.Equals(tag, StringComparison.OrdinalIgnoreCase));

    private static string CanonicalTag(string tag) => s_controls.First(c => c.Equals(tag, StringComparison.OrdinalIgnoreCase));

    private static string? Attr(XElement el, string name)
    {
        foreach (var a in el.Attributes())
        {
            if (a.Name.LocalName.Equals(name, StringComparison.OrdinalIgnoreCase))
                return a.Value;
        }

        return null;
    }

    private static bool IsTrue(string? value) => value is not null && value.Trim().Equals("true", StringComparison.OrdinalIgnoreCase);

    // "$image" -> "image"; a literal value (no '$') has no task variable.
    private static string? Variable(string? value) =>
        value is not null && value.StartsWith('$') && value.Length > 1 ? value[1..] : null;
}
