using NativeConv.Experiments.Reports;

namespace NativeConv.Tests.Reports;

public class GitInfoTests
{
    [Fact]
    public void The_build_stamps_the_commit_so_runs_outside_the_repository_still_name_their_source()
    {
        // The test project is built from a git checkout (CI clones the repository), so the stamp must be there.
        string? stamped = GitInfo.BuiltFromCommit();
        Assert.NotNull(stamped);
        Assert.Matches("^[0-9a-f]{40}$", stamped);
        // Outside any repository the stamped commit is what results.json records.
        Assert.Equal(stamped, GitInfo.Commit(Path.GetTempPath()));
    }
}
