package org.streaminference.jobs;

import org.streaminference.schemas.UserCodeRelease;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.JobID;
import org.apache.flink.core.execution.JobStatusHook;

/**
 * Releases the job's classes from the JobManager's JVM-wide registries when the job ends (finished,
 * failed or cancelled). The JobManager deserializes the job's operators with a class loader of the
 * job's own, and what they leave there (Avro's schema parsing, for one, caches Jackson buffers in
 * thread-locals of the JobManager's long-lived threads) would keep that loader after the job, in a
 * session cluster one per submission. Operators release the TaskManagers' loaders with {@code
 * registerUserCodeClassLoaderReleaseHookIfAbsent}; the JobManager has no such hook for user code,
 * but it calls a job's status hooks as the job ends.
 */
@Internal
final class UserCodeReleaseHook implements JobStatusHook {
    private static final long serialVersionUID = 1L;

    @Override
    public void onCreated(JobID jobId) {}

    private static void release() {
        UserCodeRelease.releaseThisJob();
        UserCodeRelease.releaseJobManagerCaches();
    }

    @Override
    public void onFinished(JobID jobId) {
        release();
    }

    @Override
    public void onFailed(JobID jobId, Throwable throwable) {
        release();
    }

    @Override
    public void onCanceled(JobID jobId) {
        release();
    }
}
