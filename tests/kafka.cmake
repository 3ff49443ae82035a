# The kafka suite (label kafka): henvis's guarantees re-proven on a real
# 3-node Apache Kafka (KRaft, the jars of deploy/kafka/pom.xml), started once
# by the fixture below with scripts/kafka on 127.0.0.1:29091-29093 (controllers
# :29191-29193, storage in build-asan/kafka-test/) and stopped after. Each test
# stack deletes and recreates deploy/topics.tsv's topics (same settings as
# deploy/kafka/create-topics) before it starts (tests/integration/real_kafka.cpp),
# so the fixture skips creating them and the tests run one at a time.
#   scripts/dev test                  runs it after the robustness suite
#   scripts/dev robustness --kafka    broker failures at full size (20 000 offers)
# Needs java and mvn (scripts/dev kafka-deps); the first run resolves the jars.
set(KAFKA_TEST_DIR ${CMAKE_BINARY_DIR}/kafka-test)
set(KAFKA_SCRIPT ${CMAKE_SOURCE_DIR}/scripts/kafka)
# (A cluster left running by an interrupted run is stopped first.)
add_test(NAME "kafka: start a 3-node Apache Kafka (KRaft) with henvis's topics"
         COMMAND sh -c "\"$0\" down --dir \"$1\" && exec \"$0\" up --nodes 3 --dir \"$1\" --port-base 29090 --no-topics"
                 ${KAFKA_SCRIPT} ${KAFKA_TEST_DIR})
add_test(NAME "kafka: stop the cluster" COMMAND ${KAFKA_SCRIPT} down --dir ${KAFKA_TEST_DIR})
set_tests_properties("kafka: start a 3-node Apache Kafka (KRaft) with henvis's topics"
                     PROPERTIES FIXTURES_SETUP kafka LABELS kafka TIMEOUT 600 RESOURCE_LOCK kafka)
set_tests_properties("kafka: stop the cluster"
                     PROPERTIES FIXTURES_CLEANUP kafka LABELS kafka TIMEOUT 120 RESOURCE_LOCK kafka)

# kafka_test(<test binary> <Catch test name>): one test case on the cluster.
# Commas in a name are escaped: Catch reads an unescaped one as "or".
function(kafka_test binary name)
  string(REPLACE "," "\\," spec "${name}")
  add_test(NAME "kafka: ${name}" COMMAND ${binary} --warn NoTests "${spec}")
  set_tests_properties("kafka: ${name}" PROPERTIES
    LABELS kafka FIXTURES_REQUIRED kafka RESOURCE_LOCK kafka TIMEOUT 1200
    ENVIRONMENT "HENVIS_KAFKA_BOOTSTRAP_FILE=${KAFKA_TEST_DIR}/bootstrap.txt;HENVIS_KAFKA_DIR=${KAFKA_TEST_DIR}")
endfunction()

foreach(name
    "An accepted offer for a Herning resident reaches dev-center-657's inbox only"
    "An Aarhus resident's consent becomes an unroutable referral the coordinator sees"
    "A garbage message on the offers topic is dead-lettered and the next offer is routed"
    "A consent withdrawal erases the contact data from every database"
    "Socialsøg through the stack: scan, the right inbox, receipt"
    "Bad events land in each consumer's DLQ with reason and origin, the partition moves on"
    "henvisctl dlq list names every DLQ and refuses, never creates, an unknown topic"
    "Kafka's console consumer reads henvis.referrals.v1 with the CloudEvents headers"
    "Two partition-aligned routers hold and produce what one router does, repeat counts included, and one down stops only its own partitions")
  kafka_test(henvis_integration_tests "${name}")
endforeach()
kafka_test(henvis_robustness_tests
  "Kafka broker failures: a node, the controller and all nodes killed lose nothing")

# The crash test (services SIGKILLed 3x each) at a small size:
# HENVIS_KAFKA_CRASH_OFFERS (default 2000).
set(crash "Crash test: intake, router and notifier killed with SIGKILL lose and duplicate nothing")
string(REPLACE "," "\\," crash_spec "${crash}")
add_test(NAME "kafka: ${crash}"
         COMMAND sh -c "HENVIS_ROBUSTNESS_OFFERS=\${HENVIS_KAFKA_CRASH_OFFERS:-2000} exec \"$0\" --warn NoTests \"$1\""
                 $<TARGET_FILE:henvis_robustness_tests> "${crash_spec}")
set_tests_properties("kafka: ${crash}" PROPERTIES
  LABELS kafka FIXTURES_REQUIRED kafka RESOURCE_LOCK kafka TIMEOUT 1200
  ENVIRONMENT "HENVIS_KAFKA_BOOTSTRAP_FILE=${KAFKA_TEST_DIR}/bootstrap.txt;HENVIS_KAFKA_DIR=${KAFKA_TEST_DIR}")

# The secured cluster (scripts/kafka up --secure: mutual TLS, StandardAuthorizer,
# deploy/kafka/acls.tsv) on ports 29591-29593 (TLS), 29391-29393 (plaintext,
# where anonymous clients may do nothing), after the plain cluster stopped:
# one cluster at a time. tests/kafka_secure_run starts and stops it.
set(secure "secured cluster: each principal only its topics, no certificate no access, the referral path over TLS")
add_test(NAME "kafka: ${secure}"
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/kafka_secure_run ${KAFKA_SCRIPT}
                 ${CMAKE_BINARY_DIR}/kafka-secure-test $<TARGET_FILE:henvis_integration_tests>)
set_tests_properties("kafka: ${secure}" PROPERTIES
  LABELS kafka RESOURCE_LOCK kafka TIMEOUT 1200 DEPENDS "kafka: stop the cluster")
