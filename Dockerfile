# Keld node image. Build the jar first (./keld version builds node/target/keld.jar, or
# `mvn -pl node -am package -DskipTests`), then:  docker build -t keld:0.1.0 --build-arg KELD_VERSION=0.1.0 .
# Every setting comes from the environment (OPERATIONS.md lists them); the profile is postgres.
FROM eclipse-temurin:17-jre

ARG KELD_VERSION=0.1.0
# curl for the health check only.
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 keld && useradd --system --uid 10001 --gid keld --home-dir /var/lib/keld --create-home keld

COPY node/target/keld.jar /opt/keld/keld.jar

USER 10001:10001
WORKDIR /var/lib/keld

# Containers: listen on every interface, advertise the container's own name (set KELD_CLUSTER_HOSTNAME).
ENV KELD_APP_VERSION=${KELD_VERSION} \
    KELD_DATA_DIR=/var/lib/keld \
    KELD_HTTP_INTERFACE=0.0.0.0 \
    KELD_HTTP_PORT=8080 \
    KELD_OTLP_PORT=4318 \
    KELD_CLUSTER_PORT=2552 \
    KELD_CLUSTER_BIND_HOSTNAME=0.0.0.0 \
    KELD_MANAGEMENT_PORT=8558 \
    KELD_MANAGEMENT_BIND_HOSTNAME=0.0.0.0 \
    KELD_UNREADY_DELAY=5s \
    JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75"

# HTTP API, OTLP ingest, cluster (Artery), Pekko Management.
EXPOSE 8080 4318 2552 8558

HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 CMD curl -fsS http://127.0.0.1:8080/health/alive || exit 1

# exec form: the JVM is PID 1's child-free process and gets SIGTERM itself (a clean leave exits 0).
ENTRYPOINT ["java", "-jar", "/opt/keld/keld.jar", "start", "--profile", "postgres"]
