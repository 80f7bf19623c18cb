%% anchor_erlang.erl: the Erlang/OTP anchor of bench/runtime. It runs the
%% in-memory workloads of runtime_bench.c with plain processes so that
%% bench/run.sh can compare libactor with Erlang in one session:
%%   fanout    N processes x 10 messages sent by the main process (not an
%%             actor of the workload), every count read back and checked;
%%   hot       1,000,000 messages into one process from 2 sender processes;
%%   pingpong  round trips between two processes, asynchronous sends;
%%   memory    RSS per idle process that has handled one message, the
%%             processes spawned in waves of 10,000 as in runtime_bench.c.
%% Every handled message adds 1 to a shared atomics counter (as the libactor
%% actors do); the main process polls it every millisecond to see the end.
%% Prints one line per figure: `bench erlang <name> key=value ...`.
%% Usage (the process limit must allow 1,000,000 processes):
%%   erl -noshell +P 2000000 -pa DIR -run anchor_erlang main -extra [--quick] [workload...]
-module(anchor_erlang).
-export([main/0]).

now_s() ->
    erlang:monotonic_time(nanosecond) / 1.0e9.

%% Resident set of this VM in KiB, now and at its peak, from /proc.
rss_kb() ->
    status_kb(<<"VmRSS:">>).

peak_rss_kb() ->
    status_kb(<<"VmHWM:">>).

status_kb(Field) ->
    {ok, Status} = file:read_file("/proc/self/status"),
    field_kb(Field, binary:split(Status, <<"\n">>, [global])).

field_kb(Field, [Line | T]) ->
    case string:prefix(Line, Field) of
        nomatch ->
            field_kb(Field, T);
        Rest ->
            [Kb | _] = string:lexemes(Rest, " \t"),
            binary_to_integer(Kb)
    end;
field_kb(_Field, []) ->
    0.

%% ---- waiting for the count -------------------------------------------------

new_count() ->
    atomics:new(1, [{signed, false}]).

done(C) ->
    atomics:add(C, 1, 1).

reset(C) ->
    atomics:put(C, 1, 0).

wait_count(C, Target) ->
    case atomics:get(C, 1) >= Target of
        true ->
            ok;
        false ->
            receive
            after 1 -> wait_count(C, Target)
            end
    end.

%% ---- actors ------------------------------------------------------------------

%% A counter that keeps its count (fan-out) and answers `get`.
tally(C, N) ->
    receive
        inc ->
            done(C),
            tally(C, N + 1);
        {get, From} ->
            From ! {count, self(), N},
            tally(C, N)
    end.

%% A counter without state (hot actor, memory).
counter(C) ->
    receive
        inc ->
            done(C),
            counter(C)
    end.

%% One side of the ping-pong: learns its peer, then answers every ping.
pinger(C) ->
    receive
        {peer, Peer} ->
            done(C),
            pinger(C, Peer)
    end.

pinger(C, Peer) ->
    receive
        {ping, N} ->
            done(C),
            case N =< 1 of
                true -> ok;
                false -> Peer ! {ping, N - 1}
            end,
            pinger(C, Peer)
    end.

%% ---- workloads -----------------------------------------------------------------

send_all(_Msg, []) ->
    ok;
send_all(Msg, [P | T]) ->
    P ! Msg,
    send_all(Msg, T).

rounds(0, _Pids) ->
    ok;
rounds(R, Pids) ->
    send_all(inc, Pids),
    rounds(R - 1, Pids).

wrong_counts([], _Want, Wrong) ->
    Wrong;
wrong_counts([P | T], Want, Wrong) ->
    P ! {get, self()},
    receive
        {count, P, N} ->
            wrong_counts(T, Want, Wrong + (case N of Want -> 0; _ -> 1 end))
    end.

fanout(Actors, Per) ->
    C = new_count(),
    Pids = [spawn(fun() -> tally(C, 0) end) || _ <- lists:seq(1, Actors)],
    %% Every process handles one message first (as libactor activates every
    %% actor before the timed rounds).
    send_all(inc, Pids),
    wait_count(C, Actors),
    reset(C),
    T0 = now_s(),
    rounds(Per, Pids),
    wait_count(C, Actors * Per),
    Dt = now_s() - T0,
    case wrong_counts(Pids, Per + 1, 0) of
        0 ->
            ok;
        Wrong ->
            io:format(standard_error, "anchor_erlang: fanout: ~b processes have a wrong count~n",
                      [Wrong]),
            erlang:halt(1)
    end,
    io:format("bench erlang fanout actors=~b msgs=~b msgs_per_s=~b counts_checked=~b "
              "peak_rss_kb=~b~n",
              [Actors, Actors * Per, round(Actors * Per / Dt), Actors, peak_rss_kb()]),
    [exit(P, kill) || P <- Pids],
    ok.

hot(Total) ->
    C = new_count(),
    Hot = spawn(fun() -> counter(C) end),
    Hot ! inc,
    wait_count(C, 1),
    reset(C),
    Each = Total div 2,
    T0 = now_s(),
    [spawn(fun() -> send_n(Hot, Each) end) || _ <- [1, 2]],
    wait_count(C, 2 * Each),
    Dt = now_s() - T0,
    io:format("bench erlang hot msgs=~b senders=2 msgs_per_s=~b~n",
              [2 * Each, round(2 * Each / Dt)]),
    exit(Hot, kill),
    ok.

send_n(_To, 0) ->
    ok;
send_n(To, N) ->
    To ! inc,
    send_n(To, N - 1).

pingpong(Rounds) ->
    C = new_count(),
    A = spawn(fun() -> pinger(C) end),
    B = spawn(fun() -> pinger(C) end),
    A ! {peer, B},
    B ! {peer, A},
    wait_count(C, 2),
    reset(C),
    N = 2 * Rounds, % messages: each round trip is two
    T0 = now_s(),
    A ! {ping, N},
    wait_count(C, N),
    Dt = now_s() - T0,
    io:format("bench erlang pingpong round_trips=~b round_trips_per_s=~b~n",
              [Rounds, round(Rounds / Dt)]),
    exit(A, kill),
    exit(B, kill),
    ok.

%% Spawn and send one message to each process without keeping its pid:
%% processes live until killed, so nothing but the VM holds them.
spawn_active(_C, 0) ->
    ok;
spawn_active(C, N) ->
    spawn(fun() -> counter(C) end) ! inc,
    spawn_active(C, N - 1).

%% In waves of 10,000, as runtime_bench.c does.
waves(_C, 0) ->
    ok;
waves(C, Left) ->
    N = min(Left, 10000),
    reset(C),
    spawn_active(C, N),
    wait_count(C, N),
    waves(C, Left - N).

memory(Actors) ->
    C = new_count(),
    Warm = spawn(fun() -> counter(C) end),
    Warm ! inc,
    wait_count(C, 1),
    reset(C),
    erlang:garbage_collect(),
    Before = rss_kb(),
    T0 = now_s(),
    waves(C, Actors),
    Dt = now_s() - T0,
    After = rss_kb(),
    io:format("bench erlang memory actors=~b rss_delta_kb=~b bytes_per_actor=~b "
              "spawns_per_s=~b processes=~b~n",
              [Actors, After - Before, round((After - Before) * 1024 / Actors),
               round(Actors / Dt), erlang:system_info(process_count)]),
    ok.

wanted(_Name, []) ->
    true;
wanted(Name, Names) ->
    lists:member(Name, Names).

main() ->
    Args = init:get_plain_arguments(),
    Quick = lists:member("--quick", Args),
    Names = [A || A <- Args, A =/= "--quick"],
    case [N || N <- Names, not lists:member(N, ["fanout", "hot", "pingpong", "memory"])] of
        [] ->
            ok;
        Bad ->
            io:format(standard_error,
                      "anchor_erlang: unknown workload ~s; usage: [--quick] "
                      "[fanout|hot|pingpong|memory]...~n", [hd(Bad)]),
            erlang:halt(2)
    end,
    Size = fun(Q, Full) -> case Quick of true -> Q; false -> Full end end,
    wanted("fanout", Names) andalso fanout(Size(1000, 100000), 10),
    wanted("hot", Names) andalso hot(Size(10000, 1000000)),
    wanted("pingpong", Names) andalso pingpong(Size(1000, 200000)),
    wanted("memory", Names) andalso memory(Size(1000, 1000000)),
    erlang:halt(0).
