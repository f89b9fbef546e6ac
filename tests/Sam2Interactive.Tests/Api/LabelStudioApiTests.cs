using NUnit.Framework;
using Sam2Interactive.Api.LabelStudio;
using Sam2Interactive.Testing;

namespace Sam2Interactive.Tests.Api;

/// <summary>The Label Studio REST client against the stand-in: shapes, paging, predictions, and both kinds of token.</summary>
[TestFixture]
[NonParallelizable]
public sealed class LabelStudioApiTests
{
    private LabelStudioStandIn _ls = null!;

    [OneTimeSetUp]
    public async Task StartLabelStudio()
    {
        _ls = await LabelStudioStandIn.StartAsync();
        _ls.Projects[7] = ("seven", LabelStudioSamples.BananaLabelConfig);
        for (var i = 0; i < 5; i++) _ls.Tasks[700 + i] = (7, $$"""{"image":"/data/upload/7/{{i}}.png"}""", i == 0 ? 2 : 0);
    }

    [OneTimeTearDown]
    public async Task StopLabelStudio() => await _ls.DisposeAsync();

    private LabelStudioApi Api(string? key = LabelStudioStandIn.LegacyKey) =>
        new(new LabelStudioOptions { Url = new Uri(_ls.Url.ToString().TrimEnd('/')), ApiKey = key });

    [Test]
    public async Task GetProjectAsync_Existing_TitleAndLabelConfig()
    {
        using var api = Api();
        var project = await api.GetProjectAsync(7, CancellationToken.None);
        Assert.That((project.Id, project.Title, project.LabelConfig), Is.EqualTo((7L, "seven", LabelStudioSamples.BananaLabelConfig)));
    }

    [Test]
    public async Task ListTasksAsync_Pages_TotalAndTasksInIdOrderWithCounters()
    {
        using var api = Api();
        var first = await api.ListTasksAsync(7, 1, 2, CancellationToken.None);
        var third = await api.ListTasksAsync(7, 3, 2, CancellationToken.None);

        Assert.That(first.Total, Is.EqualTo(5));
        Assert.That(first.Tasks.Select(t => t.Id), Is.EqualTo(new long[] { 700, 701 }));
        Assert.That((first.Tasks[0].IsLabeled, first.Tasks[0].TotalAnnotations), Is.EqualTo((true, 2)));
        Assert.That(first.Tasks[1].ToTask().GetDataString("image"), Is.EqualTo("/data/upload/7/1.png"));
        Assert.That(third.Tasks.Select(t => t.Id), Is.EqualTo(new long[] { 704 }));
        Assert.That(_ls.ApiReads, Has.Some.EqualTo("/api/tasks/?project=7&page=3&page_size=2&fields=task_only"));
    }

    [Test]
    public async Task CreatePredictionAsync_ThenListPredictionsAsync_TaskAndModelVersionStored()
    {
        using var api = Api();
        var created = await api.CreatePredictionAsync(new PredictionCreateRequest { Task = 702, Result = [], Score = 0.9, ModelVersion = "v-test", Project = 7 },
            CancellationToken.None);
        var listed = await api.ListPredictionsAsync(702, CancellationToken.None);

        Assert.That(created.Id, Is.GreaterThan(0));
        Assert.That(listed.Select(p => (p.Id, p.Task, p.ModelVersion, p.Project)), Is.EqualTo(new[] { (created.Id, (long?)702, "v-test", (long?)7) }));
    }

    [Test]
    public async Task CreatePredictionAsync_UnknownTask_ErrorNamesTheCallAndStatus()
    {
        using var api = Api();
        var e = await Assert.ThrowsAsync<LabelStudioApiException>(() =>
            api.CreatePredictionAsync(new PredictionCreateRequest { Task = 99999, Result = [], ModelVersion = "v" }, CancellationToken.None));
        Assert.That(e!.StatusCode, Is.EqualTo(400));
        Assert.That(e.Message, Does.StartWith("Label Studio API /api/predictions/: HTTP 400"));
    }

    [Test]
    public async Task ListPredictionsAsync_PersonalAccessTokenRevoked_RefreshesOnceAndSucceeds()
    {
        using var api = Api(LabelStudioStandIn.PersonalAccessToken);
        await api.ListPredictionsAsync(700, CancellationToken.None);
        var refreshes = _ls.Refreshes;
        var used = _ls.LsRequests.Last(r => r.Path.StartsWith("/api/predictions/", StringComparison.Ordinal)).Authorization!;
        _ls.RevokedAccess[used["Bearer ".Length..]] = true;

        await api.ListPredictionsAsync(700, CancellationToken.None);

        Assert.That(_ls.Refreshes, Is.EqualTo(refreshes + 1));
    }

    [Test]
    public async Task ListPredictionsAsync_WrongToken_RefusedWithoutTheTokenInTheMessage()
    {
        using var api = Api("wrong-token-0123");
        var e = await Assert.ThrowsAsync<LabelStudioApiException>(() => api.ListPredictionsAsync(700, CancellationToken.None));
        Assert.That(e!.StatusCode, Is.EqualTo(401));
        Assert.That(e.Message, Does.Contain("LABEL_STUDIO_API_KEY").And.Not.Contain("wrong-token-0123"));
    }

    [Test]
    public async Task IsConfigured_NoKey_FalseAndCallsSayWhatToSet()
    {
        using var api = Api(key: null);
        Assert.That(api.IsConfigured, Is.False);
        var e = await Assert.ThrowsAsync<LabelStudioApiException>(() => api.GetProjectAsync(7, CancellationToken.None));
        Assert.That(e!.Message, Does.Contain("LABEL_STUDIO_API_KEY is not set"));
    }
}
