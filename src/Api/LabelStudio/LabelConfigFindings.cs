using System.Xml;
using System.Xml.Linq;

namespace Sam2Interactive.Api.LabelStudio;

/// <summary>How bad a finding is: <see cref="Fail"/> means no masks at all, <see cref="Warn"/> means some are missing.</summary>
internal enum FindingLevel
{
    Pass,
    Warn,
    Fail,
}

/// <summary>One checked property of a project; <see cref="Fix"/> says in plain words what to change (null on pass).</summary>
/// <param name="Check">Short, stable name of the check, e.g. <c>config.smart</c>.</param>
internal sealed record Finding(FindingLevel Level, string Check, string Detail, string? Fix = null);

/// <summary>
/// The labeling-configuration analysis <c>sam2i doctor</c> prints and <c>POST /setup</c> logs (one analysis, two
/// readers): an Image tag; a smart KeyPointLabels/RectangleLabels on it (LS only sends clicks of controls with
/// <c>smart="true"</c> or <c>smartOnly</c>, docs/label-studio-protocol.md §1.2); a mask control on the same Image; a label
/// value the prompt and mask controls share (otherwise every mask gets the mask control's first label). When a fix can be
/// derived mechanically, <see cref="CorrectedConfig"/> holds the configuration with it applied (never written to Label Studio).
/// </summary>
internal sealed record LabelConfigFindings(IReadOnlyList<Finding> Findings, string? CorrectedConfig, string? ImageVariable)
{
    public bool HasFailure => Findings.Any(f => f.Level == FindingLevel.Fail);

    /// <summary>Analyses <paramref name="labelConfig"/> (LS's XML); never throws.</summary>
    public static LabelConfigFindings Analyze(string? labelConfig)
    {
        var findings = new List<Finding>();
        if (string.IsNullOrWhiteSpace(labelConfig))
        {
            findings.Add(new(FindingLevel.Fail, "config.image", "the project has no labeling configuration",
                "Open Settings → Labeling Interface and choose an image segmentation template."));
            return new(findings, null, null);
        }

        var parsed = LabelConfigParser.ParseUncached(labelConfig);
        if (parsed.Config is null && parsed.Problem is { } problem && !problem.Contains("mask control", StringComparison.Ordinal) && !problem.Contains("names no <Image>", StringComparison.Ordinal))
        {
            findings.Add(new(FindingLevel.Fail, "config.image", problem, "Add <Image name=\"image\" value=\"$image\"/> to the labeling configuration."));
            return new(findings, null, null);
        }

        var config = parsed.Config ?? LabelConfigParser.ParseImagesOnly(labelConfig);
        var images = config.Images;
        // The image the prompts come from: the first with a smart control, else the first with a mask control, else the first.
        var image = images.FirstOrDefault(i => i.SmartKeyPoints.Count + i.SmartRectangles.Count > 0)
            ?? images.FirstOrDefault(MaskKinds.HasAny) ?? images[0];
        findings.Add(new(FindingLevel.Pass, "config.image", $"<Image name=\"{image.ImageName}\" value=\"${image.ValueVariable ?? "?"}\">"));

        var doc = TryLoad(labelConfig);
        var changed = false;
        var smart = image.SmartKeyPoints.Concat(image.SmartRectangles).ToList();
        if (smart.Count > 0)
        {
            findings.Add(new(FindingLevel.Pass, "config.smart", string.Join(", ", smart.Select(c => $"<{c.Tag} name=\"{c.Name}\" smart=\"true\">"))));
        }
        else
        {
            var prompts = image.Controls.Where(c => c.Tag is "KeyPointLabels" or "KeyPoint" or "RectangleLabels" or "Rectangle").ToList();
            if (prompts.Count > 0)
            {
                findings.Add(new(FindingLevel.Fail, "config.smart",
                    $"no prompt control on '{image.ImageName}' has smart=\"true\" ({string.Join(", ", prompts.Select(c => $"<{c.Tag} name=\"{c.Name}\">"))}); Label Studio sends no clicks to the backend",
                    $"Add smart=\"true\" to <{prompts[0].Tag} name=\"{prompts[0].Name}\">."));
                changed |= doc is not null && SetSmart(doc, prompts[0].Name);
            }
            else if (image.Controls.FirstOrDefault(c => c.Tag is "BitmaskLabels" or "Bitmask") is { } bitmask)
            {
                // Label Studio's newer prompt UI needs no smart control, only its feature flag (label-studio.md §9).
                findings.Add(new(FindingLevel.Warn, "config.smart",
                    $"no smart control on '{image.ImageName}': only Label Studio's prompt UI can segment with <{bitmask.Tag} name=\"{bitmask.Name}\">",
                    "Start Label Studio with fflag_feat_bros_951_ml_backend_short=true for the prompt UI, or add <KeyPointLabels smart=\"true\"> for the smart tools."));
            }
            else
            {
                findings.Add(new(FindingLevel.Fail, "config.smart",
                    $"'{image.ImageName}' has no KeyPointLabels or RectangleLabels control; there is nothing to click with",
                    $"Add <KeyPointLabels name=\"kp\" toName=\"{image.ImageName}\" smart=\"true\"> with the same labels as the mask control."));
                changed |= doc is not null && AddKeyPoints(doc, image);
            }
        }

        var masks = image.Controls.Where(c => MaskKinds.All.SelectMany(MaskKinds.Tags).Contains(c.Tag, StringComparer.Ordinal)).ToList();
        if (masks.Count > 0)
        {
            findings.Add(new(FindingLevel.Pass, "config.mask", string.Join(", ", masks.Select(c => $"<{c.Tag} name=\"{c.Name}\" toName=\"{image.ImageName}\">"))));
        }
        else if (images.SelectMany(i => i.Controls.Select(c => (Image: i, Control: c)))
                     .FirstOrDefault(x => MaskKinds.All.SelectMany(MaskKinds.Tags).Contains(x.Control.Tag, StringComparer.Ordinal)) is { Control: not null } other)
        {
            findings.Add(new(FindingLevel.Fail, "config.mask",
                $"the mask control <{other.Control.Tag} name=\"{other.Control.Name}\"> is on image '{other.Image.ImageName}', not on '{image.ImageName}' where the clicks are",
                $"Set toName=\"{image.ImageName}\" on <{other.Control.Tag} name=\"{other.Control.Name}\"> (or move the smart control to '{other.Image.ImageName}')."));
            changed |= doc is not null && SetToName(doc, other.Control.Name, image.ImageName);
        }
        else
        {
            findings.Add(new(FindingLevel.Fail, "config.mask",
                $"no mask control ({MaskKinds.TagList()}) on '{image.ImageName}'; the backend has nowhere to put a mask",
                $"Add <BrushLabels name=\"mask\" toName=\"{image.ImageName}\"> with the labels masks should get."));
            changed |= doc is not null && AddBrush(doc, image, smart.Count > 0 ? smart[0].Labels : []);
        }

        var promptLabels = smart.SelectMany(c => c.Labels).Distinct(StringComparer.Ordinal).ToList();
        var maskLabels = masks.SelectMany(c => c.Labels).ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (smart.Count > 0 && masks.Count > 0)
        {
            var shared = promptLabels.Where(maskLabels.Contains).ToList();
            if (promptLabels.Count == 0 || maskLabels.Count == 0 || shared.Count > 0)
            {
                findings.Add(new(FindingLevel.Pass, "config.labels", shared.Count > 0 ? "shared: " + string.Join(", ", shared) : "one of the controls has no labels (masks take the mask control's first label)"));
            }
            else
            {
                findings.Add(new(FindingLevel.Warn, "config.labels",
                    $"the prompt labels ({string.Join(", ", promptLabels)}) and the mask labels ({string.Join(", ", maskLabels)}) share no value; every mask gets the label '{masks[0].Labels[0]}'",
                    $"Add <Label value=\"{promptLabels[0]}\"/> to <{masks[0].Tag} name=\"{masks[0].Name}\"> (labels match by value)."));
                changed |= doc is not null && AddLabels(doc, masks[0].Name, promptLabels);
            }
        }

        var corrected = changed && doc is not null ? doc.Root!.ToString() : null;
        return new(findings, corrected, image.ValueVariable);
    }

    private static XDocument? TryLoad(string labelConfig)
    {
        try
        {
            var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null };
            using var reader = XmlReader.Create(new StringReader(labelConfig), settings);
            return XDocument.Load(reader);
        }
        catch (XmlException)
        {
            return null;
        }
    }

    private static XElement? Named(XDocument doc, string name) =>
        doc.Descendants().FirstOrDefault(e => e.Attributes().Any(a => a.Name.LocalName.Equals("name", StringComparison.OrdinalIgnoreCase) && a.Value == name));

    private static bool SetSmart(XDocument doc, string control)
    {
        if (Named(doc, control) is not { } el) return false;
        el.SetAttributeValue("smart", "true");
        return true;
    }

    private static bool SetToName(XDocument doc, string control, string image)
    {
        if (Named(doc, control) is not { } el) return false;
        el.SetAttributeValue(el.Attributes().FirstOrDefault(a => a.Name.LocalName.Equals("toName", StringComparison.OrdinalIgnoreCase))?.Name ?? "toName", image);
        return true;
    }

    private static bool AddLabels(XDocument doc, string control, IEnumerable<string> labels)
    {
        if (Named(doc, control) is not { } el) return false;
        foreach (var l in labels) el.Add(new XElement("Label", new XAttribute("value", l)));
        return true;
    }

    private static bool AddBrush(XDocument doc, ImageTarget image, IReadOnlyList<string> labels)
    {
        if (Named(doc, image.ImageName) is not { } el) return false;
        el.AddAfterSelf(new XElement("BrushLabels", new XAttribute("name", "mask"), new XAttribute("toName", image.ImageName),
            labels.Select(l => new XElement("Label", new XAttribute("value", l)))));
        return true;
    }

    private static bool AddKeyPoints(XDocument doc, ImageTarget image)
    {
        if (Named(doc, image.ImageName) is not { } el) return false;
        var labels = image.Controls.FirstOrDefault(c => MaskKinds.All.SelectMany(MaskKinds.Tags).Contains(c.Tag, StringComparer.Ordinal))?.Labels ?? [];
        el.AddAfterSelf(new XElement("KeyPointLabels", new XAttribute("name", "kp"), new XAttribute("toName", image.ImageName), new XAttribute("smart", "true"),
            labels.Select(l => new XElement("Label", new XAttribute("value", l)))));
        return true;
    }
}
